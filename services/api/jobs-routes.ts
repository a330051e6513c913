// The job protocol: submit, status monitor, result. See README.md#http-protocol.
import { randomUUID } from "node:crypto";
import Router from "@koa/router";
import type { JobChangeFeed } from "../../shared/job-changes.ts";
import type { JobControlPublisher } from "../../shared/job-control.ts";
import type { JobEventPublisher } from "../../shared/job-events.ts";
import type { JobQueue } from "../../shared/job-queue.ts";
import { type JobStore, type LeaseStore, transition } from "../../shared/job-store.ts";
import type { JobCatalog } from "../../shared/job-types.ts";
import { etagOf, toView } from "../../shared/job-view.ts";
import type { Logger } from "../../shared/log.ts";
import { HttpProblem } from "../../shared/problems.ts";
import { type AcceptedJob, CreateJobRequest, isTerminal, type JobRecord } from "../../shared/schemas.ts";
import { hashToken, newToken } from "../../shared/tokens.ts";
import { authorisedJob } from "./access.ts";
import { jsonBody } from "./json-body.ts";
import { preferredWait } from "./prefer.ts";
import { streamJobEvents } from "./sse.ts";
import { type PollingHints, sendStatus } from "./status-response.ts";
import { waitFor } from "./wait-for-change.ts";

export interface JobsRoutesDeps {
  store: JobStore & LeaseStore;
  changes: JobChangeFeed;
  events: JobEventPublisher;
  control: JobControlPublisher;
  queue: Pick<JobQueue, "publish">;
  catalog: JobCatalog;
  log: Logger;
  bodyLimitBytes: number;
  hints: PollingHints;
  longPollMaxSeconds: number;
  sseHeartbeatMs: number;
}

export function jobsRoutes(deps: JobsRoutesDeps): Router {
  const { store, queue, catalog, log, hints } = deps;
  const router = new Router();

  router.post("/jobs", jsonBody(deps.bodyLimitBytes), async (ctx) => {
    const request = CreateJobRequest.safeParse(ctx.request.body);
    if (!request.success) {
      throw new HttpProblem("invalidRequest", 'expected {"type": string, "payload": object}', {
        extensions: { errors: request.error.issues },
      });
    }
    const jobType = catalog.get(request.data.type);
    if (!jobType) {
      throw new HttpProblem("unknownJobType", `no job type "${request.data.type}"`, {
        extensions: { knownTypes: [...catalog.keys()] },
      });
    }
    const payload = jobType.payload.safeParse(request.data.payload);
    if (!payload.success) {
      throw new HttpProblem("invalidPayload", `payload is not valid for "${jobType.name}"`, {
        extensions: { errors: payload.error.issues },
      });
    }

    const now = new Date().toISOString();
    const token = newToken();
    const job: JobRecord = {
      id: randomUUID(),
      type: jobType.name,
      status: "queued",
      version: 1,
      attempts: 0,
      progress: { percent: 0 },
      tokenHash: hashToken(token),
      createdAt: now,
      updatedAt: now,
    };
    // Record first, so a worker never meets a message without a job; publish second, confirm awaited.
    await store.create(job);
    try {
      await queue.publish({ v: 1, jobId: job.id, type: job.type, payload: payload.data as Record<string, unknown> });
    } catch (err) {
      log.warn("publish failed; refusing the job", { jobId: job.id, error: String(err) });
      await store
        .delete(job.id)
        .catch((e: unknown) => log.error("could not remove the refused job", { jobId: job.id, error: String(e) }));
      throw new HttpProblem("brokerUnavailable", "the job queue did not confirm the job", {
        headers: { "Retry-After": "5" },
      });
    }

    // Prefer: wait=N answers the final status directly if the job ends in time.
    const wait = preferredWait(ctx.get("Prefer"), deps.longPollMaxSeconds);
    if (wait > 0) {
      ctx.set("Preference-Applied", `wait=${wait}`);
      const final = await waitFor(deps, job.id, (r) => isTerminal(r.status), wait * 1000, abortOnClose(ctx));
      if (final && isTerminal(final.status)) {
        sendStatus(ctx, final, hints);
        ctx.set("Content-Location", toView(final).statusUrl);
        ctx.body = { ...toView(final), token } satisfies AcceptedJob;
        return;
      }
    }
    const body: AcceptedJob = { ...toView(job), token };
    ctx.status = 202;
    ctx.set("Location", body.statusUrl);
    ctx.set("Retry-After", String(hints.retryAfterSeconds));
    ctx.set("Cache-Control", "no-store");
    ctx.body = body;
  });

  router.get("/jobs/:id", async (ctx) => {
    const job = await authorisedJob(ctx, store, ctx.params.id ?? "");
    const etag = etagOf(job);
    if (!etagListMatches(ctx.get("If-None-Match"), etag)) {
      // A running job whose worker stopped renewing its lease is shown as stalled.
      const lease = job.status === "running" ? await store.leaseExpiresAt(job.id) : null;
      const stalled = job.status === "running" && (lease === null || lease < Date.now());
      return sendStatus(ctx, job, hints, { stalled });
    }
    // The client has this version: long-poll for the next one if asked to, else 304.
    let current = job;
    const wait = preferredWait(ctx.get("Prefer"), deps.longPollMaxSeconds);
    if (wait > 0) {
      ctx.set("Preference-Applied", `wait=${wait}`);
      if (!isTerminal(job.status)) {
        const next = await waitFor(deps, job.id, (r) => r.version > job.version, wait * 1000, abortOnClose(ctx));
        current = next ?? job;
      }
    }
    if (current.version !== job.version) return sendStatus(ctx, current, hints);
    ctx.status = 304;
    ctx.set("ETag", etag);
    ctx.set("Cache-Control", "no-store");
  });

  // Cancellation: a queued job ends `canceled` now (its message is skipped when dequeued); a
  // running one is flagged and its worker told to abort it; a finished one is a 409.
  router.delete("/jobs/:id", async (ctx) => {
    const job = await authorisedJob(ctx, store, ctx.params.id ?? "");
    const finished = (r: JobRecord) =>
      new HttpProblem("jobFinished", `the job is ${r.status}`, { extensions: { jobStatus: r.status, job: toView(r) } });
    if (isTerminal(job.status)) throw finished(job);
    const now = new Date().toISOString();
    const committed = await transition(store, job.id, (cur) => {
      if (isTerminal(cur.status) || cur.cancelRequested) return null;
      if (cur.status === "queued") return { status: "canceled", finishedAt: now, retryAt: undefined };
      return { cancelRequested: true };
    });
    if (committed) deps.events.publish(toView(committed));
    const current = committed ?? (await store.get(job.id)) ?? job;
    if (!committed && isTerminal(current.status)) throw finished(current); // it ended meanwhile
    if (current.status === "running") {
      await deps.control.requestCancel(job.id);
      ctx.status = 202; // the worker will end it `canceled`
    } else ctx.status = 200;
    ctx.set("Cache-Control", "no-store");
    ctx.set("ETag", etagOf(current));
    ctx.body = toView(current);
  });

  router.get("/jobs/:id/events", (ctx) => streamJobEvents(ctx, { ...deps, heartbeatMs: deps.sseHeartbeatMs }));

  router.get("/jobs/:id/result", async (ctx) => {
    const job = await authorisedJob(ctx, store, ctx.params.id ?? "");
    ctx.set("Cache-Control", "no-store");
    if (job.status !== "succeeded") {
      const ended = job.status === "failed" || job.status === "canceled";
      throw new HttpProblem(ended ? "jobHasNoResult" : "jobNotFinished", `the job is ${job.status}`, {
        extensions: { jobStatus: job.status, statusUrl: toView(job).statusUrl },
      });
    }
    if (job.result?.kind === "resource") {
      ctx.status = 303;
      ctx.set("Location", job.result.uri);
      return;
    }
    const result = await store.getResult(job.id);
    if (result === null) throw new HttpProblem("notFound", "the result has expired");
    ctx.type = "application/json";
    ctx.body = result;
  });

  return router;
}

/** If-None-Match holds `*` or a list of (possibly weak) entity tags. */
export function etagListMatches(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

/** Aborts when the client goes away. (The response's 'close', not the request's: that one fires
 * as soon as a request body has been read.) */
function abortOnClose(ctx: { res: NodeJS.EventEmitter }): AbortSignal {
  const controller = new AbortController();
  ctx.res.once("close", () => controller.abort());
  return controller.signal;
}
