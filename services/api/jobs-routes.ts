// The job protocol: submit, status monitor, result. See README.md#http-protocol.
import Router from "@koa/router";
import type { Context } from "koa";
import { announcedTransition } from "../../shared/events/announced-transition.ts";
import type { JobControlPublisher } from "../../shared/events/job-control.ts";
import type { JobEventPublisher } from "../../shared/events/job-events.ts";
import { etagOf, toView } from "../../shared/jobs/job-view.ts";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import { isTerminal, type JobRecord } from "../../shared/jobs/schemas.ts";
import type { JobStore, LeaseStore } from "../../shared/store/job-store.ts";
import { authorisedJob, requester } from "./access.ts";
import { readJsonBody } from "./json-body.ts";
import { clientOf } from "./limits.ts";
import { preferredWait, prefersRepresentation } from "./prefer.ts";
import { servedResource, servedView } from "./served-resource.ts";
import { streamJobEvents } from "./sse.ts";
import { sendStatusPage, wantsHtml } from "./status-page.ts";
import { retryAfter, sendStatus } from "./status-response.ts";
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

/** A reader of one job's record that keeps the lease read with it (one round trip). A class, not
 * an object of closures: one allocation per poll, and no function (nor, under tsx, its name) to
 * make each time. */
class LeasedRead {
  lease: number | null = null;

  constructor(private readonly store: LeaseStore) {}

  async get(id: string): Promise<JobRecord | null> {
    const read = await this.store.getWithLease(id);
    this.lease = read?.leaseExpiresAt ?? null;
    return read?.record ?? null;
  }
}

/** The protocol's router, and the handlers of its two busiest routes for jobFastPaths
 * (job-fast-paths.ts): the status monitor and the submit. */
export interface JobsRoutes {
  router: Router;
  getStatus: (ctx: Context) => Promise<void>;
  submit: (ctx: Context) => Promise<void>;
}

export function jobsRoutes(deps: JobsRoutesDeps): JobsRoutes {
  const { store, log, hints } = deps;
  const router = new Router();

  const readBody = readJsonBody(deps.bodyLimitBytes);
  const accept = submitJob(deps);
  const submit = async (ctx: Context): Promise<void> => {
    await readBody(ctx);
    await accept(ctx, nothingNext);
  };
  router.post("/jobs", submit);

  // Reads (status, result, events) count against the requester's read rate limit, before anything
  // else: 401/404 probes count too, and nobody is charged for someone else's reads of its jobs.
  // With the read limit off (0) nothing is counted, so the requester is not even looked up.
  const authorisedRead = async (ctx: Context, reader: Pick<JobStore, "get"> = store): Promise<JobRecord> => {
    if (deps.limits.readPerMinute > 0) {
      const client = clientOf(ctx, await requester(ctx, deps.credentials));
      await deps.rateLimiter.hit("read", client, deps.limits.readPerMinute).catch((err) => {
        if (err instanceof HttpProblem) throw err;
        log.warn("read rate limit unavailable", { error: String(err) });
      });
    }
    return authorisedJob(ctx, reader, deps.credentials, ctx.params.id ?? "");
  };

  /** shownWith a record read alone: a running job's lease is read after it. */
  const showing = async (job: JobRecord): Promise<Shown> =>
    shownWith(job, job.status === "running" ? await store.leaseExpiresAt(job.id) : null);

  /** Holds a long poll until what it would show changes: a new version, or `stalled` once the lease
   * lapses (no version marks that: the hold wakes at the lease's expiry to look), or time is up. */
  const holdWhileUnchanged = async (from: Shown, ms: number, signal: AbortSignal): Promise<Shown> => {
    const deadline = Date.now() + ms;
    let now = from;
    while (now.etag === from.etag && !isTerminal(now.job.status) && !signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const untilLapse = now.stalled || now.lease === null ? left : now.lease - Date.now() + 1;
      const version = now.job.version;
      const next = await waitFor(deps, from.job.id, (r) => r.version > version, clamp(untilLapse, 1, left), signal);
      now = await showing(next ?? now.job);
    }
    return now;
  };

  const getStatus = async (ctx: Context): Promise<void> => {
    const representation = prefersRepresentation(ctx.get("Prefer"));
    const ifNoneMatch = ctx.get("If-None-Match");
    const withLease = new LeasedRead(store);
    let shown = shownWith(await authorisedRead(ctx, withLease), withLease.lease);
    if (wantsHtml(ctx)) {
      // A person following the status link: a page, reloaded (or live) until the job ends.
      const { job, stalled, etag } = shown;
      const token = typeof ctx.query.access_token === "string" ? ctx.query.access_token : null;
      return sendStatusPage(ctx, {
        view: servedView(job, hints.resourceOrigins, { stalled }),
        etag,
        token,
        refreshSeconds: isTerminal(job.status) ? null : retryAfter(job, hints),
      });
    }
    if (etagListMatches(ifNoneMatch, shown.etag)) {
      // The client has what we would show: long-poll for a change if asked to, else 304.
      const wait = preferredWait(ctx.get("Prefer"), deps.limits.longPollMaxSeconds);
      if (wait > 0) {
        ctx.set("Preference-Applied", `wait=${wait}`);
        shown = await holdWhileUnchanged(shown, wait * 1000, abortOnClose(ctx, deps.shutdown));
      }
      if (etagListMatches(ifNoneMatch, shown.etag)) {
        ctx.status = 304;
        ctx.set("ETag", shown.etag);
        ctx.set("Cache-Control", "no-store");
        return;
      }
    }
    sendStatus(ctx, shown.job, hints, { stalled: shown.stalled, representation });
  };
  router.get("/jobs/:id", getStatus);

  // Cancellation: a queued job ends `canceled` now (its message is skipped when dequeued); a
  // running one is flagged and its worker told to abort it; a finished one is a 409.
  router.delete("/jobs/:id", async (ctx) => {
    const job = await authorisedJob(ctx, store, deps.credentials, ctx.params.id ?? "");
    const finished = (r: JobRecord) =>
      new HttpProblem("jobFinished", `the job is ${r.status}`, {
        extensions: { jobStatus: r.status, job: servedView(r, hints.resourceOrigins) },
      });
    if (isTerminal(job.status)) throw finished(job);
    const now = new Date().toISOString();
    const committed = await announcedTransition(store, deps.events, job.id, (cur) => {
      if (isTerminal(cur.status) || cur.cancelRequested) return null;
      if (cur.status === "queued") return { status: "canceled", finishedAt: now, retryAt: undefined };
      return { cancelRequested: true };
    });
    if (committed?.status === "canceled") deps.metrics?.ended("canceled", committed.type);
    const current = committed ?? (await store.get(job.id)) ?? job;
    if (!committed && isTerminal(current.status)) throw finished(current); // it ended meanwhile
    if (current.status === "running") {
      // The request is durable (the record says cancelRequested): a lost control message only
      // delays it until the worker's next lease renewal or its final write.
      await deps.control
        .requestCancel(job.id)
        .catch((err: unknown) => log.warn("cancel message not published", { jobId: job.id, error: String(err) }));
      ctx.status = 202; // the worker will end it `canceled`
    } else ctx.status = 200;
    ctx.set("Cache-Control", "no-store");
    ctx.set("ETag", etagOf(current));
    ctx.body = servedView(current, hints.resourceOrigins);
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
    ctx.set("ETag", etagOf(job)); // a succeeded job's result never changes: the job's version names it
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

  return { router, getStatus, submit };
}

/** A job as the status monitor shows it. */
interface Shown {
  job: JobRecord;
  stalled: boolean;
  /** Lease expiry (ms since the epoch) of a running job, if it has one. */
  lease: number | null;
  etag: string;
}

/** What the status monitor shows of a record, given its lease's expiry: a running job whose worker
 * stopped renewing its lease is shown stalled, and the ETag covers that too. */
function shownWith(job: JobRecord, leaseExpiresAt: number | null): Shown {
  const lease = job.status === "running" ? leaseExpiresAt : null;
  const stalled = job.status === "running" && (lease === null || lease < Date.now());
  return { job, stalled, lease, etag: etagOf({ id: job.id, version: job.version, stalled }) };
}

/** The `next` of a handler that ends the chain: a submit answers, it never passes on. */
const nothingNext = (): Promise<void> => Promise.resolve();

const clamp = (n: number, min: number, max: number): number => Math.min(max, Math.max(min, n));

/** If-None-Match holds `*` or a list of (possibly weak) entity tags. */
export function etagListMatches(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}
