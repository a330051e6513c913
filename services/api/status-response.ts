// The status monitor's answer for a job: status code, headers and body from its record.
import type { Context } from "koa";
import { etagOf } from "../../shared/job-view.ts";
import type { JobRecord } from "../../shared/schemas.ts";
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

export function sendStatus(ctx: Context, job: JobRecord, hints: PollingHints, opts: { stalled?: boolean } = {}): void {
  const view = servedView(job, hints.resourceOrigins, opts);
  ctx.set("Cache-Control", "no-store");
  ctx.set("ETag", etagOf(job));
  switch (job.status) {
    case "queued":
    case "running":
      ctx.status = 200;
      ctx.set("Retry-After", String(retryAfter(job, hints)));
      break;
    case "succeeded":
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
