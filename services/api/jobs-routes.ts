// The job protocol: submit, status monitor, result. See README.md#http-protocol.
import Router from "@koa/router";
import type { Context } from "koa";
import type { JobControlPublisher } from "../../shared/job-control.ts";
import type { JobEventPublisher } from "../../shared/job-events.ts";
import { type JobStore, type LeaseStore, transition } from "../../shared/job-store.ts";
import { etagOf, toView } from "../../shared/job-view.ts";
import { HttpProblem } from "../../shared/problems.ts";
import { isTerminal, type JobRecord } from "../../shared/schemas.ts";
import { authorisedJob, requester } from "./access.ts";
import { jsonBody } from "./json-body.ts";
import { clientOf } from "./limits.ts";
import { preferredWait, prefersRepresentation } from "./prefer.ts";
import { servedResource } from "./served-resource.ts";
import { streamJobEvents } from "./sse.ts";
import { sendStatus } from "./status-response.ts";
import { abortOnClose, type SubmitDeps, submitJob } from "./submit.ts";
import { waitFor } from "./wait-for-change.ts";

export interface JobsRoutesDeps extends SubmitDeps {
  store: JobStore & LeaseStore;
  events: JobEventPublisher;
  control: JobControlPublisher;
  bodyLimitBytes: number;
  sseHeartbeatMs: number;
  limits: SubmitDeps["limits"] & { readPerMinute: number };
}

export function jobsRoutes(deps: JobsRoutesDeps): Router {
  const { store, log, hints } = deps;
  const router = new Router();

  router.post("/jobs", jsonBody(deps.bodyLimitBytes), submitJob(deps));

  // Reads (status, result, events) count against the requester's read rate limit, before anything
  // else: 401/404 probes count too, and nobody is charged for someone else's reads of its jobs.
  const authorisedRead = async (ctx: Context): Promise<JobRecord> => {
    const client = clientOf(ctx, await requester(ctx, deps.credentials));
    await deps.rateLimiter.hit("read", client, deps.limits.readPerMinute).catch((err) => {
      if (err instanceof HttpProblem) throw err;
      log.warn("read rate limit unavailable", { error: String(err) });
    });
    return authorisedJob(ctx, store, deps.credentials, ctx.params.id ?? "");
  };

  router.get("/jobs/:id", async (ctx) => {
    const job = await authorisedRead(ctx);
    const representation = prefersRepresentation(ctx.get("Prefer"));
    const etag = etagOf(job);
    if (!etagListMatches(ctx.get("If-None-Match"), etag)) {
      // A running job whose worker stopped renewing its lease is shown as stalled.
      const lease = job.status === "running" ? await store.leaseExpiresAt(job.id) : null;
      const stalled = job.status === "running" && (lease === null || lease < Date.now());
      return sendStatus(ctx, job, hints, { stalled, representation });
    }
    // The client has this version: long-poll for the next one if asked to, else 304.
    let current = job;
    const wait = preferredWait(ctx.get("Prefer"), deps.limits.longPollMaxSeconds);
    if (wait > 0) {
      ctx.set("Preference-Applied", `wait=${wait}`);
      if (!isTerminal(job.status)) {
        const next = await waitFor(
          deps,
          job.id,
          (r) => r.version > job.version,
          wait * 1000,
          abortOnClose(ctx, deps.shutdown),
        );
        current = next ?? job;
      }
    }
    if (current.version !== job.version) return sendStatus(ctx, current, hints, { representation });
    ctx.status = 304;
    ctx.set("ETag", etag);
    ctx.set("Cache-Control", "no-store");
  });

  // Cancellation: a queued job ends `canceled` now (its message is skipped when dequeued); a
  // running one is flagged and its worker told to abort it; a finished one is a 409.
  router.delete("/jobs/:id", async (ctx) => {
    const job = await authorisedJob(ctx, store, deps.credentials, ctx.params.id ?? "");
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

  router.get("/jobs/:id/events", async (ctx) =>
    streamJobEvents(ctx, await authorisedRead(ctx), {
      ...deps,
      heartbeatMs: deps.sseHeartbeatMs,
      resourceOrigins: hints.resourceOrigins,
    }),
  );

  router.get("/jobs/:id/result", async (ctx) => {
    const job = await authorisedRead(ctx);
    ctx.set("Cache-Control", "no-store");
    if (job.status !== "succeeded") {
      const ended = job.status === "failed" || job.status === "canceled";
      throw new HttpProblem(ended ? "jobHasNoResult" : "jobNotFinished", `the job is ${job.status}`, {
        extensions: { jobStatus: job.status, statusUrl: toView(job).statusUrl },
      });
    }
    if (job.result?.kind === "resource") {
      const uri = servedResource(job.result.uri, hints.resourceOrigins);
      if (typeof uri !== "string") {
        log.warn("not serving a stored resource URI", { jobId: job.id, reason: uri.message });
        throw new HttpProblem("invalidResource", uri.message, { status: 409 });
      }
      ctx.status = 303;
      ctx.set("Location", uri);
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
