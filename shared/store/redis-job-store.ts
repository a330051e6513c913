// JobStore on Redis: one JSON string per job, compare-and-set in a Lua script that also publishes
// the committed record on the job's changes channel (atomically with the write), keeps the queue
// watchdog's index of queued jobs, and drops the stored payload once the job has ended.
// Leases live in one sorted set; whose lease it is comes from the record's `attemptId`.
import type { createClient } from "redis";
import { JobRecord, terminalStatuses } from "../jobs/schemas.ts";
import {
  type CommitOptions,
  type CommitOutcome,
  type JobStore,
  type LeaseStore,
  StoreUnavailableError,
} from "./job-store.ts";
import type { Names } from "./names.ts";

export type RedisClient = ReturnType<typeof createClient>;

/** How many job ids the recent-jobs index (Names.recentJobsKey) keeps: the newest by createdAt. */
export const recentJobsLimit = 10_000;

// KEYS: record, queued index, payload, recent-jobs index. ARGV: record JSON, ttl s, due ms (the
// job's createdAt), id, payload JSON or "", recent-jobs limit.
const CREATE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[2]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[6]) - 1)
return 1
`;

// KEYS: record, result, changes channel, queued index, payload, leases.
// ARGV: next JSON, next version, ttl s, result JSON or "", queued due ms or "",
//       lease-expired-before ms or "", next status, id, "1" if the next status is terminal,
//       payload JSON or "" (stored anew, for a job put back in the queue).
const COMMIT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 'missing' end
local c = cjson.decode(cur)
if c['version'] ~= tonumber(ARGV[2]) - 1 then return 'conflict' end
if ARGV[6] ~= '' then
  local s = redis.call('ZSCORE', KEYS[6], ARGV[8])
  if s and tonumber(s) >= tonumber(ARGV[6]) then return 'guarded' end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if ARGV[4] ~= '' and ARGV[7] == 'succeeded' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[8])
elseif c['status'] == 'queued' then redis.call('ZREM', KEYS[4], ARGV[8]) end
if ARGV[9] == '1' then redis.call('DEL', KEYS[5])
elseif ARGV[10] ~= '' then redis.call('SET', KEYS[5], ARGV[10], 'EX', ARGV[3])
else redis.call('EXPIRE', KEYS[5], ARGV[3]) end
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 'committed'
`;

// KEYS: leases, then one record key per job. ARGV: expiry ms, then id, attemptId pairs.
// Returns the ids whose record asks for cancellation.
const RENEW = `
local cancel = {}
for i = 2, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw then
    local r = cjson.decode(raw)
    local id = ARGV[2 * i - 2]
    if r['status'] == 'running' and r['attemptId'] == ARGV[2 * i - 1] then
      redis.call('ZADD', KEYS[1], ARGV[1], id)
      if r['cancelRequested'] then cancel[#cancel + 1] = id end
    end
  end
end
return cancel
`;

// KEYS: leases, record. ARGV: id, attemptId. The lease goes if the job is gone or ended, or if
// the record still names this attempt; a newer attempt's lease is left alone.
const RELEASE = `
local raw = redis.call('GET', KEYS[2])
if raw then
  local r = cjson.decode(raw)
  local ended = r['status'] == 'succeeded' or r['status'] == 'failed' or r['status'] == 'canceled'
  if not ended and r['attemptId'] ~= ARGV[2] then return 0 end
end
return redis.call('ZREM', KEYS[1], ARGV[1])
`;

// KEYS: a sorted set. ARGV: member, before ms.
const DROP_IF_BEFORE = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) < tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`;

export class RedisJobStore implements JobStore, LeaseStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    private readonly ttlSeconds: number,
  ) {}

  async create(record: JobRecord, opts: { payload?: unknown } = {}): Promise<void> {
    const n = this.names;
    const created = await this.call(() =>
      this.redis.eval(CREATE, {
        keys: [n.jobKey(record.id), n.queuedKey, n.payloadKey(record.id), n.recentJobsKey],
        arguments: [
          JSON.stringify(record),
          String(this.ttlSeconds),
          String(Date.parse(record.createdAt)),
          record.id,
          opts.payload === undefined ? "" : JSON.stringify(opts.payload),
          String(recentJobsLimit),
        ],
      }),
    );
    if (created !== 1) throw new Error(`job ${record.id} exists already`);
  }

  async get(id: string): Promise<JobRecord | null> {
    const raw = await this.call(() => this.redis.get(this.names.jobKey(id)));
    return raw === null ? null : JobRecord.parse(JSON.parse(raw));
  }

  async commit(next: JobRecord, opts: CommitOptions = {}): Promise<CommitOutcome> {
    const id = next.id;
    const n = this.names;
    const outcome = await this.call(() =>
      this.redis.eval(COMMIT, {
        keys: [n.jobKey(id), n.resultKey(id), n.jobChangesChannel(id), n.queuedKey, n.payloadKey(id), n.leasesKey],
        arguments: [
          JSON.stringify(next),
          String(next.version),
          String(this.ttlSeconds),
          opts.result ?? "",
          opts.queuedDueMs === undefined ? "" : String(Math.round(opts.queuedDueMs)),
          opts.leaseExpiredBefore === undefined ? "" : String(Math.round(opts.leaseExpiredBefore)),
          next.status,
          id,
          terminalStatuses.has(next.status) ? "1" : "",
          opts.payload === undefined ? "" : JSON.stringify(opts.payload),
        ],
      }),
    );
    return outcome as CommitOutcome;
  }

  async getResult(id: string): Promise<string | null> {
    return this.call(() => this.redis.get(this.names.resultKey(id)));
  }

  async getPayload(id: string): Promise<unknown> {
    const raw = await this.call(() => this.redis.get(this.names.payloadKey(id)));
    return raw === null ? null : (JSON.parse(raw) as unknown);
  }

  async delete(id: string): Promise<void> {
    const n = this.names;
    await this.call(() =>
      this.redis
        .multi()
        .del([n.jobKey(id), n.resultKey(id), n.payloadKey(id)])
        .zRem(n.queuedKey, id)
        .exec(),
    );
  }

  async overdueQueued(before: number, limit: number): Promise<string[]> {
    return this.call(() =>
      this.redis.zRangeByScore(this.names.queuedKey, 0, before, { LIMIT: { offset: 0, count: limit } }),
    );
  }

  async resetQueued(id: string, dueMs: number | null): Promise<void> {
    const key = this.names.queuedKey;
    await this.call(() =>
      dueMs === null
        ? this.redis.zRem(key, id)
        : this.redis.zAdd(key, { score: Math.round(dueMs), value: id }, { condition: "XX" }),
    );
  }

  async holdLease(id: string, ttlMs: number): Promise<void> {
    await this.call(() => this.redis.zAdd(this.names.leasesKey, { score: Date.now() + ttlMs, value: id }));
  }

  async renewLeases(
    attempts: readonly { id: string; attemptId: string }[],
    ttlMs: number,
  ): Promise<{ cancel: string[] }> {
    if (attempts.length === 0) return { cancel: [] };
    const n = this.names;
    const cancel = await this.call(() =>
      this.redis.eval(RENEW, {
        keys: [n.leasesKey, ...attempts.map((a) => n.jobKey(a.id))],
        arguments: [String(Date.now() + ttlMs), ...attempts.flatMap((a) => [a.id, a.attemptId])],
      }),
    );
    return { cancel: cancel as string[] };
  }

  async releaseLease(id: string, attemptId: string): Promise<void> {
    const n = this.names;
    await this.call(() => this.redis.eval(RELEASE, { keys: [n.leasesKey, n.jobKey(id)], arguments: [id, attemptId] }));
  }

  async dropExpiredLease(id: string, before: number): Promise<void> {
    await this.call(() =>
      this.redis.eval(DROP_IF_BEFORE, { keys: [this.names.leasesKey], arguments: [id, String(Math.round(before))] }),
    );
  }

  async leaseExpiresAt(id: string): Promise<number | null> {
    return this.call(() => this.redis.zScore(this.names.leasesKey, id));
  }

  async expiredLeases(graceMs: number, limit: number): Promise<string[]> {
    return this.call(() =>
      this.redis.zRangeByScore(this.names.leasesKey, 0, Date.now() - graceMs, { LIMIT: { offset: 0, count: limit } }),
    );
  }

  /** Connection-level failures become StoreUnavailableError; anything else is a bug and propagates. */
  private call<T>(op: () => Promise<T>): Promise<T> {
    return redisCall(this.redis, op);
  }
}

/** Runs a Redis command: connection-level failures (not connected, or the connection dropped under
 * it) become StoreUnavailableError (HTTP 503); anything else is a bug and propagates. */
export async function redisCall<T>(redis: RedisClient, op: () => Promise<T>): Promise<T> {
  if (!redis.isReady) throw new StoreUnavailableError("Redis is not connected");
  try {
    return await op();
  } catch (err) {
    if (redis.isReady) throw err;
    throw new StoreUnavailableError(`Redis connection lost: ${String(err)}`);
  }
}
