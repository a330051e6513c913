// The status monitor's answer for a job: status code, headers and body from its record.
import type { Context } from "koa";
import { etagOf } from "../../shared/jobs/job-view.ts";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import { servedView } from "./served-resource.ts";

/** How the status monitor answers. */
export interface PollingHints {
  /** Retry-After when the job gives no ETA. */
  retryAfterSeconds: number;
  /** Upper bound of Retry-After, whatever the ETA says. */
  retryAfterMaxSeconds: number;
  /** RESOURCE_ORIGINS: absolute resource URIs a succeeded job may redirect to. */
  resourceOrigins: readonly string[];
}

export function retryAfter(job: JobRecord, hints: Omit<PollingHints, "resourceOrigins">): number {
  const eta = job.status === "running" ? job.progress.etaSeconds : undefined;
  if (eta === undefined) return hints.retryAfterSeconds;
  return Math.min(hints.retryAfterMaxSeconds, Math.max(1, Math.ceil(eta)));
}

export interface StatusOptions {
  /** Its worker stopped renewing the lease (see README, Leases). */
  stalled?: boolean;
  /** `Prefer: return=representation`: a succeeded job answers 200 with itself, not 303. A browser's
   * fetch cannot read a 303 without following it (and following it leaves the job behind). */
  representation?: boolean;
}

export function sendStatus(ctx: Context, job: JobRecord, hints: PollingHints, opts: StatusOptions = {}): void {
  const view = servedView(job, hints.resourceOrigins, opts);
  ctx.set("Cache-Control", "no-store");
  ctx.set("ETag", etagOf(view));
  switch (job.status) {
    case "queued":
    case "running":
      ctx.status = 200;
      ctx.set("Retry-After", String(retryAfter(job, hints)));
      break;
    case "succeeded":
      if (opts.representation) {
        ctx.status = 200;
        preferenceApplied(ctx, "return=representation");
        break;
      }
      ctx.status = 303;
      if (view.resultUrl) ctx.set("Location", view.resultUrl);
      break;
    case "failed":
    case "canceled":
      ctx.status = 200;
      break;
  }
  ctx.body = view;
}

/** Adds to Preference-Applied (a long poll may have set `wait=N` already). */
export function preferenceApplied(ctx: Context, preference: string): void {
  const before = ctx.response.get("Preference-Applied");
  ctx.set("Preference-Applied", before ? `${before}, ${preference}` : preference);
}
