// JobStore on Redis: one JSON string per job, compare-and-set in a Lua script that also
// publishes the committed record on the job's changes channel (atomically with the write).
import type { createClient } from "redis";
import { type CommitOutcome, type JobStore, type LeaseStore, StoreUnavailableError } from "./job-store.ts";
import type { Names } from "./names.ts";
import { JobRecord } from "./schemas.ts";

export type RedisClient = ReturnType<typeof createClient>;

// KEYS: record, result, changes channel. ARGV: next JSON, next version, ttl seconds, result JSON or "".
const COMMIT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 'missing' end
if cjson.decode(cur)['version'] ~= tonumber(ARGV[2]) - 1 then return 'conflict' end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[3]) end
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 'committed'
`;

export class RedisJobStore implements JobStore, LeaseStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    private readonly ttlSeconds: number,
  ) {}

  async create(record: JobRecord): Promise<void> {
    const ok = await this.call(() =>
      this.redis.set(this.names.jobKey(record.id), JSON.stringify(record), {
        condition: "NX",
        expiration: { type: "EX", value: this.ttlSeconds },
      }),
    );
    if (ok !== "OK") throw new Error(`job ${record.id} exists already`);
  }

  async get(id: string): Promise<JobRecord | null> {
    const raw = await this.call(() => this.redis.get(this.names.jobKey(id)));
    return raw === null ? null : JobRecord.parse(JSON.parse(raw));
  }

  async commit(next: JobRecord, result?: string): Promise<CommitOutcome> {
    const id = next.id;
    const outcome = await this.call(() =>
      this.redis.eval(COMMIT, {
        keys: [this.names.jobKey(id), this.names.resultKey(id), this.names.jobChangesChannel(id)],
        arguments: [JSON.stringify(next), String(next.version), String(this.ttlSeconds), result ?? ""],
      }),
    );
    return outcome as CommitOutcome;
  }

  async getResult(id: string): Promise<string | null> {
    return this.call(() => this.redis.get(this.names.resultKey(id)));
  }

  async delete(id: string): Promise<void> {
    await this.call(() => this.redis.del([this.names.jobKey(id), this.names.resultKey(id)]));
  }

  async holdLease(id: string, ttlMs: number): Promise<void> {
    await this.call(() => this.redis.zAdd(this.names.leasesKey, { score: Date.now() + ttlMs, value: id }));
  }

  async renewLeases(ids: readonly string[], ttlMs: number): Promise<void> {
    if (ids.length === 0) return;
    const score = Date.now() + ttlMs;
    await this.call(() =>
      this.redis.zAdd(
        this.names.leasesKey,
        ids.map((value) => ({ score, value })),
        { condition: "XX" },
      ),
    );
  }

  async releaseLease(id: string): Promise<void> {
    await this.call(() => this.redis.zRem(this.names.leasesKey, id));
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
  private async call<T>(op: () => Promise<T>): Promise<T> {
    if (!this.redis.isReady) throw new StoreUnavailableError("Redis is not connected");
    try {
      return await op();
    } catch (err) {
      if (this.redis.isReady) throw err;
      throw new StoreUnavailableError(`Redis connection lost: ${String(err)}`);
    }
  }
}
