// JobStore on Redis: one JSON string per job, compare-and-set in Lua scripts (./scripts/*.lua, one per
// transition) that also publish the job's event on its events channel (atomically with the write,
// when the caller hands it in), keep the queue watchdog's index of queued jobs, and drop the stored
// payload once the job has ended. Leases live in one sorted set; whose lease it is comes from the record's `attemptId`.
import type { createClient } from "redis";
import { JobRecord, terminalStatuses } from "../jobs/schemas.ts";
import {
  type CommitOptions,
  type CommitOutcome,
  type JobStore,
  type LeaseStore,
  StoreUnavailableError,
} from "./job-store.ts";
import { LuaScript } from "./lua-script.ts";
import type { Names } from "./names.ts";
import { storeScripts } from "./store-scripts.ts";

export type RedisClient = ReturnType<typeof createClient>;

const scripts = {
  createJob: new LuaScript(storeScripts.createJob),
  commitJob: new LuaScript(storeScripts.commitJob),
  renewLeases: new LuaScript(storeScripts.renewLeases),
  releaseLease: new LuaScript(storeScripts.releaseLease),
  dropExpiredLease: new LuaScript(storeScripts.dropExpiredLease),
};

/** How many job ids the recent-jobs index (Names.recentJobsKey) keeps: the newest by createdAt. */
export const recentJobsLimit = 10_000;

export class RedisJobStore implements JobStore, LeaseStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    private readonly ttlSeconds: number,
  ) {}

  async create(record: JobRecord, opts: { payload?: unknown } = {}): Promise<void> {
    const n = this.names;
    const created = await this.call(() =>
      scripts.createJob.run(this.redis, {
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
      scripts.commitJob.run(this.redis, {
        keys: [n.jobKey(id), n.resultKey(id), n.jobEventsChannel(id), n.queuedKey, n.payloadKey(id), n.leasesKey],
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
          ...(opts.event ? [opts.event] : []),
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
      scripts.renewLeases.run(this.redis, {
        keys: [n.leasesKey, ...attempts.map((a) => n.jobKey(a.id))],
        arguments: [String(Date.now() + ttlMs), ...attempts.flatMap((a) => [a.id, a.attemptId])],
      }),
    );
    return { cancel: cancel as string[] };
  }

  async releaseLease(id: string, attemptId: string): Promise<void> {
    const n = this.names;
    await this.call(() =>
      scripts.releaseLease.run(this.redis, { keys: [n.leasesKey, n.jobKey(id)], arguments: [id, attemptId] }),
    );
  }

  async dropExpiredLease(id: string, before: number): Promise<void> {
    await this.call(() =>
      scripts.dropExpiredLease.run(this.redis, {
        keys: [this.names.leasesKey],
        arguments: [id, String(Math.round(before))],
      }),
    );
  }

  async getWithLease(id: string): Promise<{ record: JobRecord; leaseExpiresAt: number | null } | null> {
    // Both in one write on one connection: Redis runs them in this order.
    const [raw, lease] = await this.call(() =>
      Promise.all([this.redis.get(this.names.jobKey(id)), this.redis.zScore(this.names.leasesKey, id)]),
    );
    return raw === null ? null : { record: JobRecord.parse(JSON.parse(raw)), leaseExpiresAt: lease };
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
