// POST /jobs: who may submit, limits, validation, idempotency, then the durable hand-off
// (record in Redis, publish with confirm) and the 202 — or, with Prefer: wait, the final status.
import type { Context, Middleware } from "koa";
import type { JobChangeFeed } from "../../shared/events/job-changes.ts";
import { etagOf } from "../../shared/jobs/job-view.ts";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import { type AcceptedJob, isTerminal, type JobRecord, parseCreateJobRequest } from "../../shared/jobs/schemas.ts";
import type { Logger } from "../../shared/observability/log.ts";
import type { ApiMetrics } from "../../shared/observability/metrics.ts";
import type { JobQueue } from "../../shared/queue/job-queue.ts";
import type { JobTypeRegistry, RegisteredJobType } from "../../shared/registry/job-type-registry.ts";
import { type JobStore, StoreUnavailableError } from "../../shared/store/job-store.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { submitter } from "./access.ts";
import type { Credentials } from "./credentials.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import { clientOf, type InFlightLimiter, type RateLimiter } from "./limits.ts";
import type { PayloadValidator } from "./payload-validator.ts";
import { preferredWait } from "./prefer.ts";
import { requestIdOf } from "./request-log.ts";
import { servedView } from "./served-resource.ts";
import type { PollingHints } from "./status-response.ts";
import { waitFor } from "./wait-for-change.ts";

export interface SubmitDeps {
  store: JobStore;
  changes: JobChangeFeed;
  queue: Pick<JobQueue, "publish" | "depth" | "refusing">;
  /** The job types workers announced: what submissions are validated against. */
  jobTypes: JobTypeRegistry;
  payloads: PayloadValidator;
  /** A known type that no live worker serves: queue it with a warning, or refuse it. */
  withoutWorker: "accept" | "reject";
  log: Logger;
  hints: PollingHints;
  credentials: Credentials;
  idempotency: IdempotencyStore;
  rateLimiter: RateLimiter;
  inFlight: InFlightLimiter;
  accepting: () => boolean;
  /** Fires when the instance starts shutting down: held requests answer now. */
  shutdown: AbortSignal;
  metrics?: ApiMetrics;
  limits: {
    longPollMaxSeconds: number;
    submitPerMinute: number;
    maxJobsInFlight: number;
    maxQueueDepth: number;
    jobTtlSeconds: number;
  };
}

export function submitJob(deps: SubmitDeps): Middleware {
  const { store, queue, log, hints, limits } = deps;
  const depth = depthGauge(queue);

  return async (ctx) => {
    if (!deps.accepting()) {
      throw new HttpProblem("shuttingDown", undefined, { headers: { "Retry-After": "1" } });
    }
    // A check that is off (no credentials, a limit of 0, no Idempotency-Key) costs nothing: no
    // call, no promise, and no client address looked up for it.
    const subject = deps.credentials.required ? await submitter(ctx, deps.credentials) : null;
    const idempotencyKey = ctx.get("Idempotency-Key");
    const client =
      limits.submitPerMinute > 0 || limits.maxJobsInFlight > 0 || idempotencyKey ? clientOf(ctx, subject) : "";
    if (limits.submitPerMinute > 0)
      await available(() => deps.rateLimiter.hit("submit", client, limits.submitPerMinute));

    const request = parseCreateJobRequest(ctx.request.body);
    if (!request.success) {
      throw new HttpProblem("invalidRequest", 'expected {"type": string, "payload": object}', {
        extensions: { errors: request.error.issues },
      });
    }
    const registered = await deps.jobTypes.get(request.data.type);
    if (!registered) {
      const known = await deps.jobTypes.list();
      throw new HttpProblem("unknownJobType", `no job type "${request.data.type}"`, {
        extensions: { knownTypes: known.map((t) => t.definition.name) },
      });
    }
    const jobType = registered.definition;
    const payload = await deps.payloads.check(jobType, request.data.payload);
    if (!payload.ok && "broken" in payload) {
      log.error("a job type's announced payload schema does not compile", {
        type: jobType.name,
        version: jobType.version,
        error: payload.broken,
      });
      throw new HttpProblem("internal", `the payload schema announced for "${jobType.name}" is not valid`);
    }
    if (!payload.ok) {
      throw new HttpProblem("invalidPayload", `payload is not valid for "${jobType.name}"`, {
        extensions: { errors: payload.errors },
      });
    }
    const warning = withoutWorker(registered, deps.withoutWorker);

    const claim = idempotencyKey
      ? await available(() => deps.idempotency.claim(client, idempotencyKey, JSON.stringify(ctx.request.body)))
      : null;
    if (claim?.kind === "replay") {
      const job = await store.get(claim.jobId);
      if (!job) throw new HttpProblem("notFound", "the job this Idempotency-Key created has expired");
      ctx.set("Idempotent-Replayed", "true");
      return accepted(ctx, job, claim.token, hints);
    }

    const { record: job, token } = newJob(jobType.name, subject ?? undefined);
    try {
      if (limits.maxJobsInFlight > 0) await available(() => deps.inFlight.check(client, limits.maxJobsInFlight));
      const refusing = queue.refusing();
      if (refusing) {
        // Nothing is written: the record would only be removed again when the publish fails. (The
        // queue logged the alarm once.)
        throw new HttpProblem("brokerUnavailable", "the job queue refuses new jobs for now (a broker resource alarm)", {
          headers: { "Retry-After": "5" },
        });
      }
      if (limits.maxQueueDepth > 0 && (await depth()) >= limits.maxQueueDepth) {
        throw new HttpProblem("queueFull", `${limits.maxQueueDepth} or more jobs are waiting`, {
          headers: { "Retry-After": "5" },
        });
      }
      // Record first, so a worker never meets a message without a job; publish second, confirm awaited.
      // The payload is kept with the record until the job ends: if this process dies before the
      // publish is confirmed, the queue watchdog (shared/recovery/sweeper.ts) publishes the job itself.
      const message = {
        v: 1 as const,
        jobId: job.id,
        type: job.type,
        payload: payload.payload,
      };
      await store.create(job, { payload: message.payload });
      try {
        await queue.publish(message, { requestId: requestIdOf(ctx) });
      } catch (err) {
        log.warn("publish failed; refusing the job", { jobId: job.id, error: String(err) });
        await store
          .delete(job.id)
          .catch((e: unknown) => log.error("could not remove the refused job", { jobId: job.id, error: String(e) }));
        throw new HttpProblem("brokerUnavailable", "the job queue did not confirm the job", {
          headers: { "Retry-After": "5" },
        });
      }
    } catch (err) {
      await claim?.abandon().catch(() => {}); // let the client retry with the same key
      throw err;
    }
    // The job is accepted from here on; bookkeeping failures must not turn that into an error.
    if (warning) ctx.set("Herald-Warning", warning);
    deps.metrics?.accepted.inc({ type: job.type });
    await Promise.all([
      claim?.complete(job.id, token).catch((e: unknown) => log.warn("idempotency record failed", { error: String(e) })),
      limits.maxJobsInFlight > 0 // with no bound, nothing reads the client's set of jobs
        ? deps.inFlight
            .add(client, job.id, limits.jobTtlSeconds)
            .catch((e: unknown) => log.warn("in-flight record failed", { error: String(e) }))
        : undefined,
    ]);

    // Prefer: wait=N answers the final status directly if the job ends in time.
    const wait = preferredWait(ctx.get("Prefer"), limits.longPollMaxSeconds);
    if (wait > 0) {
      ctx.set("Preference-Applied", `wait=${wait}`);
      const final = await waitFor(
        deps,
        job.id,
        (r) => isTerminal(r.status),
        wait * 1000,
        abortOnClose(ctx, deps.shutdown),
      ).catch(
        () => null, // the job is accepted: a failed wait falls back to the 202
      );
      if (final && isTerminal(final.status)) {
        // 200 with the final status, never the status monitor's 303: a client that follows
        // redirects would be sent to /result without its token, and lose the token (shown only here).
        const view = servedView(final, hints.resourceOrigins);
        ctx.status = 200;
        ctx.set("Content-Location", view.statusUrl);
        ctx.set("ETag", etagOf(final));
        ctx.set("Cache-Control", "no-store");
        ctx.body = { ...view, token } satisfies AcceptedJob;
        return;
      }
    }
    accepted(ctx, job, token, hints);
  };
}

function accepted(ctx: Context, job: JobRecord, token: string, hints: PollingHints): void {
  // servedView's object is made for this answer: the token goes into it. A copy spread from it cost
  // ~1.5 µs in a microbenchmark, over ten times what making the view itself costs.
  const body: AcceptedJob = Object.assign(servedView(job, hints.resourceOrigins), { token });
  ctx.status = 202;
  ctx.set("Location", body.statusUrl);
  ctx.set("Retry-After", String(hints.retryAfterSeconds));
  ctx.set("Cache-Control", "no-store");
  ctx.set("ETag", etagOf(job));
  ctx.body = body;
}

/** With no live worker for the type: the warning to send with the 202 (policy `accept`), or the
 * 422 (policy `reject`). Null while a worker serves it. */
function withoutWorker(type: RegisteredJobType, policy: "accept" | "reject"): string | null {
  if (type.liveWorkers > 0) return null;
  const { name } = type.definition;
  if (policy === "reject") {
    throw new HttpProblem("noWorkerForType", `no live worker serves "${name}"`, { extensions: { jobType: name } });
  }
  return "no-worker-for-type: no live worker serves this job type; the job waits in the queue until one does";
}

/** Redis-backed bookkeeping that cannot run answers 503, like the job store. */
async function available<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    throw new StoreUnavailableError(String(err));
  }
}

/** Queue depth, read at most once a second (checkQueue is a broker round trip). */
function depthGauge(queue: Pick<JobQueue, "depth">): () => Promise<number> {
  let cached = { at: 0, value: 0 };
  return async () => {
    if (Date.now() - cached.at > 1_000) {
      try {
        cached = { at: Date.now(), value: await queue.depth() };
      } catch {
        cached = { at: Date.now(), value: 0 }; // unknown depth: the publish itself will tell
      }
    }
    return cached.value;
  };
}

/** Aborts when the client goes away or the instance shuts down, so a held request is answered at
 * once. (The response's 'close', not the request's: that one fires as soon as a body was read.) */
export function abortOnClose(ctx: { res: NodeJS.EventEmitter }, shutdown: AbortSignal): AbortSignal {
  const controller = new AbortController();
  ctx.res.once("close", () => controller.abort());
  return AbortSignal.any([controller.signal, shutdown]);
}
