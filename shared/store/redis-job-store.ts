// JobStore on Redis: one JSON string per job, compare-and-set in Lua scripts (./scripts/*.lua, one per
// transition) that also publish the job's event on its events channel (atomically with the write,
// when the caller hands it in), keep the queue watchdog's index of queued jobs, and drop the stored
// payload once the job has ended. Leases live in one sorted set per shard; whose lease it is comes
// from the record's `attemptId`. Every script gets keys of one shard only (names.ts), so each is in
// one slot on Redis Cluster; readers of the per-shard indexes send one command per shard at once and
// merge the answers.
import { JobRecord, terminalStatuses } from "../jobs/schemas.ts";
import {
  type CommitOptions,
  type CommitOutcome,
  type JobStore,
  type LeaseStore,
  type StartAttempt,
  StoreUnavailableError,
} from "./job-store.ts";
import { LuaScript } from "./lua-script.ts";
import type { Names } from "./names.ts";
import { isUnavailable, type RedisClient } from "./redis-client.ts";
import { shardCount } from "./shards.ts";
import { storeScripts } from "./store-scripts.ts";
import { ValidatedRecords } from "./validated-records.ts";

// Defined with the factory (redis-client.ts); re-exported here, where its users import it from.
export type { RedisClient };

const scripts = {
  createJob: new LuaScript(storeScripts.createJob),
  commitJob: new LuaScript(storeScripts.commitJob),
  startAttempt: new LuaScript(storeScripts.startAttempt),
  renewLeases: new LuaScript(storeScripts.renewLeases),
  releaseLease: new LuaScript(storeScripts.releaseLease),
  dropExpiredLease: new LuaScript(storeScripts.dropExpiredLease),
};

/** How many job ids the recent-jobs index (Names.recentJobsKey, all shards) keeps at most: each shard
 * keeps its newest `recentJobsPerShard` by createdAt. */
export const recentJobsLimit = 10_000;
export const recentJobsPerShard = Math.ceil(recentJobsLimit / shardCount);

export class RedisJobStore implements JobStore, LeaseStore {
  /** The status monitor's reads: a job polled while it does not change is validated once. */
  private readonly polled = new ValidatedRecords();

  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    private readonly ttlSeconds: number,
  ) {}

  async create(record: JobRecord, opts: { payload?: unknown } = {}): Promise<void> {
    const n = this.names;
    const shard = n.shardOf(record.id);
    const created = await this.call(() =>
      scripts.createJob.run(this.redis, {
        keys: [n.jobKey(record.id), n.queuedKey(shard), n.payloadKey(record.id), n.recentJobsKey(shard)],
        arguments: [
          JSON.stringify(record),
          String(this.ttlSeconds),
          String(Date.parse(record.createdAt)),
          record.id,
          opts.payload === undefined ? "" : JSON.stringify(opts.payload),
          String(recentJobsPerShard),
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
    const shard = n.shardOf(id);
    const outcome = await this.call(() =>
      scripts.commitJob.run(this.redis, {
        keys: [
          n.jobKey(id),
          n.resultKey(id),
          n.jobEventsChannel(id),
          n.queuedKey(shard),
          n.payloadKey(id),
          n.leasesKey(shard),
        ],
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
        .zRem(n.queuedKey(n.shardOf(id)), id)
        .exec(),
    );
  }

  async overdueQueued(before: number, limit: number): Promise<string[]> {
    return this.oldestInShards((k) => this.names.queuedKey(k), before, limit);
  }

  async resetQueued(id: string, dueMs: number | null): Promise<void> {
    const key = this.names.queuedKey(this.names.shardOf(id));
    await this.call(() =>
      dueMs === null
        ? this.redis.zRem(key, id)
        : this.redis.zAdd(key, { score: Math.round(dueMs), value: id }, { condition: "XX" }),
    );
  }

  async startAttempt(id: string, attemptId: string, now: string, ttlMs: number): Promise<StartAttempt> {
    const n = this.names;
    const shard = n.shardOf(id);
    const reply = (await this.call(() =>
      scripts.startAttempt.run(this.redis, {
        keys: [n.jobKey(id), n.queuedKey(shard), n.payloadKey(id), this.leases(id)],
        arguments: [id, attemptId, now, String(Date.now() + ttlMs), String(this.ttlSeconds)],
      }),
    )) as [string, string?, string?];
    const [what, raw, lease] = reply;
    if (what === "started" && raw) return { started: true, record: JobRecord.parse(JSON.parse(raw)) };
    const record = raw ? JobRecord.parse(JSON.parse(raw)) : null;
    return { started: false, record, leaseExpiresAt: lease ? Number(lease) : null };
  }

  async holdLease(id: string, ttlMs: number): Promise<void> {
    await this.call(() => this.redis.zAdd(this.leases(id), { score: Date.now() + ttlMs, value: id }));
  }

  async renewLeases(
    attempts: readonly { id: string; attemptId: string }[],
    ttlMs: number,
  ): Promise<{ cancel: string[] }> {
    if (attempts.length === 0) return { cancel: [] };
    const n = this.names;
    const byShard = new Map<number, { id: string; attemptId: string }[]>();
    for (const a of attempts) {
      const shard = n.shardOf(a.id);
      const mine = byShard.get(shard);
      if (mine) mine.push(a);
      else byShard.set(shard, [a]);
    }
    const expiry = String(Date.now() + ttlMs);
    // One script per shard (its keys share the shard's slot), all sent at once.
    const cancels = await this.call(() =>
      Promise.all(
        [...byShard].map(([shard, mine]) =>
          scripts.renewLeases.run(this.redis, {
            keys: [n.leasesKey(shard), ...mine.map((a) => n.jobKey(a.id))],
            arguments: [expiry, ...mine.flatMap((a) => [a.id, a.attemptId])],
          }),
        ),
      ),
    );
    return { cancel: cancels.flatMap((c) => c as string[]) };
  }

  async releaseLease(id: string, attemptId: string): Promise<void> {
    const n = this.names;
    await this.call(() =>
      scripts.releaseLease.run(this.redis, { keys: [this.leases(id), n.jobKey(id)], arguments: [id, attemptId] }),
    );
  }

  async dropExpiredLease(id: string, before: number): Promise<void> {
    await this.call(() =>
      scripts.dropExpiredLease.run(this.redis, {
        keys: [this.leases(id)],
        arguments: [id, String(Math.round(before))],
      }),
    );
  }

  async getWithLease(id: string): Promise<{ record: JobRecord; leaseExpiresAt: number | null } | null> {
    // Both in one write on one connection: Redis runs them in this order.
    const [raw, lease] = await this.call(() =>
      Promise.all([this.redis.get(this.names.jobKey(id)), this.redis.zScore(this.leases(id), id)]),
    );
    return raw === null ? null : { record: this.polled.parse(id, raw), leaseExpiresAt: lease };
  }

  async leaseExpiresAt(id: string): Promise<number | null> {
    return this.call(() => this.redis.zScore(this.leases(id), id));
  }

  async expiredLeases(graceMs: number, limit: number): Promise<string[]> {
    return this.oldestInShards((k) => this.names.leasesKey(k), Date.now() - graceMs, limit);
  }

  /** The leases set of the job's shard. */
  private leases(id: string): string {
    return this.names.leasesKey(this.names.shardOf(id));
  }

  /** The `limit` members scored at most `max`, lowest first, over every shard's sorted set `keyOf(k)`:
   * one ZRANGE per shard, sent together (one round trip; on a cluster, each to its node). */
  private async oldestInShards(keyOf: (shard: number) => string, max: number, limit: number): Promise<string[]> {
    const perShard = await this.call(() =>
      Promise.all(
        this.names.shards.map((k) =>
          this.redis.zRangeByScoreWithScores(keyOf(k), 0, max, { LIMIT: { offset: 0, count: limit } }),
        ),
      ),
    );
    return perShard
      .flat()
      .sort((a, b) => a.score - b.score)
      .slice(0, limit)
      .map((e) => e.value);
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
    if (redis.isReady && !isUnavailable(err)) throw err;
    throw new StoreUnavailableError(`Redis connection lost: ${String(err)}`);
  }
}
