// Per-client limits that hold across API instances (Redis-backed): fixed-window rate limits and
// a bound on unfinished jobs. A client is its credential's subject, else its IP address.
import type { Context } from "koa";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import { isTerminal, JobRecord } from "../../shared/jobs/schemas.ts";
import type { Names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { jobRecords } from "../../shared/store/sharded-reads.ts";

/** The client a limit applies to: its credential's subject, else its address (see app.ts for
 * which X-Forwarded-For entry that is behind proxies). */
export const clientOf = (ctx: Pick<Context, "ip">, subject: string | null): string =>
  subject ? `sub:${subject}` : `ip:${ctx.ip}`;

export class RateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
  ) {}

  /** Counts one request of `client` in `bucket`; throws 429 past `perMinute` (0 = unlimited). */
  async hit(bucket: string, client: string, perMinute: number): Promise<void> {
    if (perMinute <= 0) return;
    const now = Date.now();
    const window = Math.floor(now / 60_000);
    const key = this.names.rateLimitKey(bucket, client, window);
    const [count] = (await this.redis.multi().incr(key).pExpire(key, 61_000).exec()) as unknown as [number];
    if (count > perMinute) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
      throw new HttpProblem("rateLimited", `at most ${perMinute} ${bucket} requests a minute`, {
        headers: { "Retry-After": String(retryAfter) },
        extensions: { limit: perMinute },
      });
    }
  }
}

export class InFlightLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
  ) {}

  /** Throws 429 when `client` has `max` unfinished jobs (0 = unlimited). Finished or expired
   * jobs are pruned from the client's set here, so no other component needs to know of it. */
  async check(client: string, max: number): Promise<void> {
    if (max <= 0) return;
    const key = this.names.inFlightKey(client);
    const ids = await this.redis.sMembers(key);
    if (ids.length < max) return;
    const records = await jobRecords(this.redis, this.names, ids);
    const finished = ids.filter((_, i) => {
      const raw = records[i];
      if (!raw) return true;
      const parsed = JobRecord.safeParse(JSON.parse(raw));
      return !parsed.success || isTerminal(parsed.data.status);
    });
    if (finished.length > 0) await this.redis.sRem(key, finished);
    if (ids.length - finished.length >= max) {
      throw new HttpProblem("tooManyJobsInFlight", `at most ${max} unfinished jobs per client`, {
        headers: { "Retry-After": "5" },
        extensions: { limit: max },
      });
    }
  }

  async add(client: string, jobId: string, ttlSeconds: number): Promise<void> {
    const key = this.names.inFlightKey(client);
    await this.redis.multi().sAdd(key, jobId).expire(key, ttlSeconds).exec();
  }
}
