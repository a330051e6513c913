// The operator API under /admin/api (and the page at /admin): recent jobs by status, type or id,
// queue depth and rates, dead letters with replay. Every call needs ADMIN_TOKEN (admin-auth.ts);
// answers are bounded (at most `maxJobs` jobs, `maxDeadLetters` letters) and never cached.
import Router from "@koa/router";
import type { Channel } from "amqplib";
import type { Context, Middleware, Next } from "koa";
import { z } from "zod";
import type { JobEventPublisher } from "../../shared/events/job-events.ts";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import { JobId, JobStatus } from "../../shared/jobs/schemas.ts";
import type { Logger } from "../../shared/observability/log.ts";
import { listDeadLetters, replayDeadLetters } from "../../shared/queue/dead-letters.ts";
import type { JobQueue } from "../../shared/queue/job-queue.ts";
import { type JobStore, StoreUnavailableError } from "../../shared/store/job-store.ts";
import type { Names } from "../../shared/store/names.ts";
import { type RedisClient, redisCall } from "../../shared/store/redis-job-store.ts";
import { adminChecker, adminDisabled, requireAdmin } from "./admin-auth.ts";
import { RecentJobs } from "./admin-jobs.ts";
import { sendAdminPage } from "./admin-page.ts";
import { jsonBody } from "./json-body.ts";

export const maxJobs = 200;
export const maxDeadLetters = 100;

export interface AdminDeps {
  /** ADMIN_TOKEN; null = no operator page. */
  token: string | null;
  redis: RedisClient;
  names: Names;
  store: JobStore;
  events: JobEventPublisher;
  queue: Pick<JobQueue, "publish" | "depth">;
  /** A short-lived RabbitMQ channel for the dead-letter tools (RabbitJobQueue.withChannel); null
   * when the queue gives none: then the dead-letter calls answer 503. */
  withChannel: (<T>(use: (ch: Channel) => Promise<T>) => Promise<T>) | null;
  log: Logger;
}

const limit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, "a whole number")
    .transform(Number)
    .pipe(z.int().min(1).max(max))
    .default(fallback);

/** Exported for the OpenAPI document (openapi-admin.ts), which describes these very checks. */
export const JobsQuery = z.strictObject({
  status: JobStatus.optional(),
  type: z
    .string()
    .regex(/^[\w.:-]{1,100}$/, "a job type name")
    .optional(),
  id: JobId.optional(),
  limit: limit(maxJobs, 50),
});

export const LettersQuery = z.strictObject({ limit: limit(maxDeadLetters, maxDeadLetters) });

export const ReplayRequest = z.union([
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({ jobIds: z.array(JobId).min(1).max(maxDeadLetters) }),
]);

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new HttpProblem("invalidParameters", `bad ${what}`, {
      extensions: { errors: r.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
    });
  }
  return r.data;
}

/** What to mount, in order: a gate (404 while ADMIN_TOKEN is unset; the credential on every API
 * call), then the routes. */
export function adminRoutes(deps: AdminDeps): { gate: Middleware; router: Router } {
  const token = deps.token;
  if (token === null) {
    const gate: Middleware = (ctx, next) => (isAdminPath(ctx.path) ? Promise.reject(adminDisabled()) : next());
    return { gate, router: new Router() };
  }
  const check = adminChecker(token);
  const jobs = new RecentJobs(deps.redis, deps.names);
  /** Runs `use` on a RabbitMQ channel; a broker that fails answers 503 broker-unavailable. */
  const onChannel = async <T>(use: (ch: Channel) => Promise<T>): Promise<T> => {
    if (!deps.withChannel) throw new HttpProblem("brokerUnavailable", "no RabbitMQ channel for dead letters");
    try {
      return await deps.withChannel(use);
    } catch (err) {
      if (err instanceof HttpProblem || err instanceof StoreUnavailableError) throw err;
      deps.log.warn("operator page: RabbitMQ failed", { error: String(err) });
      throw new HttpProblem("brokerUnavailable", "RabbitMQ did not answer", { headers: { "Retry-After": "5" } });
    }
  };
  /** A figure that is null while its broker does not answer (the page shows "unknown"). */
  const orNull = <T>(what: string, p: Promise<T>): Promise<T | null> =>
    p.catch((err: unknown) => {
      deps.log.warn(`operator page: no ${what}`, { error: String(err) });
      return null;
    });

  const router = new Router();
  router.get("/admin", (ctx) => sendAdminPage(ctx, check(ctx)));
  router.get("/admin/api/jobs", async (ctx) => {
    const q = parse(JobsQuery, ctx.query, "query");
    const list = await redisCall(deps.redis, () => jobs.list(q));
    ctx.body = { jobs: list, limit: q.limit };
  });
  router.get("/admin/api/stats", async (ctx) => {
    parse(z.strictObject({}), ctx.query, "query");
    const [rates, queueDepth, deadLetters] = await Promise.all([
      redisCall(deps.redis, () => jobs.rates()),
      orNull("queue depth", deps.queue.depth()),
      orNull(
        "dead-letter count",
        onChannel(async (ch) => (await ch.checkQueue(deps.names.deadLetterQueue)).messageCount),
      ),
    ]);
    ctx.body = { queueDepth, deadLetters, rates, at: new Date().toISOString() };
  });
  router.get("/admin/api/dead-letters", async (ctx) => {
    const q = parse(LettersQuery, ctx.query, "query");
    // Unacked reads: closing the channel puts every letter back.
    ctx.body = await onChannel(async (ch) => {
      const total = (await ch.checkQueue(deps.names.deadLetterQueue)).messageCount;
      return { total, messages: await listDeadLetters(ch, deps.names, q.limit) };
    });
  });
  router.post("/admin/api/dead-letters/replay", jsonBody(64 * 1024), async (ctx) => {
    const body = parse(ReplayRequest, ctx.request.body, 'body: expected {"all": true} or {"jobIds": [...]}');
    const only = "all" in body ? null : new Set(body.jobIds);
    const report = await onChannel((ch) =>
      replayDeadLetters({ ch, names: deps.names, queue: deps.queue, store: deps.store, events: deps.events }, only),
    );
    deps.log.info("dead letters replayed from the operator page", {
      replayed: report.replayed.length,
      kept: report.kept.length,
      dropped: report.dropped.length,
    });
    ctx.body = report;
  });

  const api = requireAdmin(check);
  const gate: Middleware = async (ctx: Context, next: Next) => {
    if (!isAdminPath(ctx.path)) return next();
    ctx.set("Cache-Control", "no-store");
    // The page answers without a credential too (401 with its login form); the API never does.
    if (ctx.path === "/admin") return next();
    return api(ctx, next);
  };
  return { gate, router };
}

const isAdminPath = (path: string): boolean => path === "/admin" || path.startsWith("/admin/");
