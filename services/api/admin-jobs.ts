// Recent jobs for the operator page, read from Redis: the bounded index of job ids by createdAt
// (Names.recentJobsKey, one per shard, written with each job's record by the store's create script)
// and the records themselves. Filtering happens here, on at most the index's `recentJobsLimit` newest
// ids, read in pages merged over the shards, so one request reads a bounded number of records.
import { toView } from "../../shared/jobs/job-view.ts";
import { JobRecord, type JobStatus, type JobView } from "../../shared/jobs/schemas.ts";
import type { Names } from "../../shared/store/names.ts";
import { type RedisClient, recentJobsLimit } from "../../shared/store/redis-job-store.ts";
import { jobRecords } from "../../shared/store/sharded-reads.ts";

export interface JobQuery {
  status?: JobStatus;
  type?: string;
  id?: string;
  /** At most this many jobs are returned, newest first. */
  limit: number;
}

export interface Rates {
  windowSeconds: number;
  /** Jobs created in the window. */
  accepted: number;
  /** Jobs that ended so in the window (among those created in the last `lookbackSeconds`). */
  succeeded: number;
  failed: number;
  lookbackSeconds: number;
}

/** Ids read from each shard's index per round of the merge (16 shards: about 500 ids a round). */
const shardPageSize = 32;
/** Rates look at the records of jobs created this long ago at most (a job that ran longer is not
 * counted), and at most `rateRecords` of them. */
const rateLookbackMs = 15 * 60_000;
const rateRecords = 2_000;

export class RecentJobs {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
  ) {}

  async list(q: JobQuery): Promise<JobView[]> {
    if (q.id !== undefined) {
      const [record] = await this.records([q.id]);
      return record && matches(record, q) ? [toView(record)] : [];
    }
    const out: JobView[] = [];
    const seen = new Set<string>();
    const newest = this.newestFirst();
    for (let read = 0; read < recentJobsLimit && out.length < q.limit; ) {
      const ids = await newest.next();
      if (ids.length === 0) break;
      read += ids.length;
      for (const record of await this.records(ids.filter((id) => !seen.has(id)))) {
        seen.add(record.id);
        if (matches(record, q) && out.length < q.limit) out.push(toView(record));
      }
    }
    return out;
  }

  /** The ids of every shard's index merged newest first, a page at a time: each round reads the
   * next `shardPageSize` ids of every shard that has more (one command per shard, sent together)
   * and hands out those no unread id can be newer than. By rank: ids added meanwhile shift the
   * pages, so an id may come twice (list() skips it). */
  private newestFirst(): { next(): Promise<string[]> } {
    const shards = this.names.shards;
    const offset = shards.map(() => 0);
    const exhausted = shards.map(() => false);
    let pending: { value: string; score: number; shard: number }[] = [];
    return {
      next: async () => {
        for (;;) {
          const reading = shards.filter((k) => !exhausted[k] && !pending.some((e) => e.shard === k));
          const pages = await Promise.all(
            reading.map((k) =>
              this.redis.zRangeWithScores(
                this.names.recentJobsKey(k),
                offset[k] ?? 0,
                (offset[k] ?? 0) + shardPageSize - 1,
                { REV: true },
              ),
            ),
          );
          reading.forEach((k, i) => {
            const page = pages[i] ?? [];
            offset[k] = (offset[k] ?? 0) + page.length;
            if (page.length < shardPageSize) exhausted[k] = true;
            for (const e of page) pending.push({ ...e, shard: k });
          });
          // Safe to hand out: ids at least as new as the oldest read of each shard that has more.
          let floor = Number.NEGATIVE_INFINITY;
          for (const k of shards) {
            if (exhausted[k]) continue;
            const mine = pending.filter((e) => e.shard === k);
            const oldest = Math.min(...mine.map((e) => e.score));
            floor = Math.max(floor, oldest);
          }
          const out = pending.filter((e) => e.score >= floor).sort((a, b) => b.score - a.score);
          pending = pending.filter((e) => e.score < floor);
          if (out.length > 0 || pending.length === 0) return out.map((e) => e.value);
        }
      },
    };
  }

  async rates(now = Date.now(), windowMs = 60_000): Promise<Rates> {
    const keys = this.names.shards.map((k) => this.names.recentJobsKey(k));
    // One command per shard for each, all sent together.
    const [counts, newest] = await Promise.all([
      Promise.all(keys.map((key) => this.redis.zCount(key, now - windowMs, "+inf"))),
      Promise.all(
        keys.map((key) =>
          this.redis.zRangeWithScores(key, "+inf", now - rateLookbackMs, {
            BY: "SCORE",
            REV: true,
            LIMIT: { offset: 0, count: rateRecords },
          }),
        ),
      ),
    ]);
    const accepted = counts.reduce((a, b) => a + b, 0);
    // The newest `rateRecords` ids of the lookback over all shards.
    const ids = newest
      .flat()
      .sort((a, b) => b.score - a.score)
      .slice(0, rateRecords)
      .map((e) => e.value);
    let succeeded = 0;
    let failed = 0;
    for (const r of await this.records(ids)) {
      if (!r.finishedAt || Date.parse(r.finishedAt) < now - windowMs) continue;
      if (r.status === "succeeded") succeeded++;
      else if (r.status === "failed") failed++;
    }
    return { windowSeconds: windowMs / 1000, accepted, succeeded, failed, lookbackSeconds: rateLookbackMs / 1000 };
  }

  /** The records that still exist (expired or refused jobs leave their id in the index). */
  private async records(ids: string[]): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const raw = await jobRecords(this.redis, this.names, ids);
    const out: JobRecord[] = [];
    for (const text of raw) {
      if (text === null) continue;
      const parsed = JobRecord.safeParse(JSON.parse(text));
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }
}

const matches = (r: JobRecord, q: JobQuery): boolean =>
  (q.status === undefined || r.status === q.status) && (q.type === undefined || r.type === q.type);
