// Recent jobs for the operator page, read from Redis: the bounded index of job ids by createdAt
// (Names.recentJobsKey, written with each job's record by the store's create script) and the
// records themselves. Filtering happens here, on at most the index's `recentJobsLimit` newest ids,
// read in pages, so one request reads a bounded number of records.
import { toView } from "../../shared/jobs/job-view.ts";
import { JobRecord, type JobStatus, type JobView } from "../../shared/jobs/schemas.ts";
import type { Names } from "../../shared/store/names.ts";
import { type RedisClient, recentJobsLimit } from "../../shared/store/redis-job-store.ts";

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

const pageSize = 500;
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
    for (let start = 0; start < recentJobsLimit && out.length < q.limit; start += pageSize) {
      // By rank, newest first; ids added meanwhile shift the pages, hence `seen`.
      const ids = await this.redis.zRange(this.names.recentJobsKey, start, start + pageSize - 1, { REV: true });
      if (ids.length === 0) break;
      for (const record of await this.records(ids.filter((id) => !seen.has(id)))) {
        seen.add(record.id);
        if (matches(record, q) && out.length < q.limit) out.push(toView(record));
      }
      if (ids.length < pageSize) break;
    }
    return out;
  }

  async rates(now = Date.now(), windowMs = 60_000): Promise<Rates> {
    const key = this.names.recentJobsKey;
    const accepted = await this.redis.zCount(key, now - windowMs, "+inf");
    // The newest `rateRecords` ids of the lookback, newest first.
    const ids = await this.redis.zRange(key, "+inf", now - rateLookbackMs, {
      BY: "SCORE",
      REV: true,
      LIMIT: { offset: 0, count: rateRecords },
    });
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
    const raw = await this.redis.mGet(ids.map((id) => this.names.jobKey(id)));
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
