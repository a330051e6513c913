// Server-Sent Events: GET /jobs/{id}/events. The first event is the current state, then one
// event per change; `id:` is the version, so Last-Event-ID resumes; the stream ends after the
// terminal state, and a reconnect that has it already gets 204 (EventSource stops). Comment
// heartbeats keep proxies from closing it, and each heartbeat re-reads the store, which repairs a
// change lost by pub/sub.
import { PassThrough } from "node:stream";
import type { Context } from "koa";
import type { JobChangeFeed } from "../../shared/events/job-changes.ts";
import { isTerminal, type JobRecord, type JobView } from "../../shared/jobs/schemas.ts";
import type { Logger } from "../../shared/observability/log.ts";
import type { ApiMetrics } from "../../shared/observability/metrics.ts";
import type { JobStore } from "../../shared/store/job-store.ts";
import { servedView, serveView } from "./served-resource.ts";

export interface SseDeps {
  store: JobStore;
  changes: JobChangeFeed;
  log: Logger;
  heartbeatMs: number;
  /** RESOURCE_ORIGINS, for the events' resultUrl (see served-resource.ts). */
  resourceOrigins: readonly string[];
  /** Fires at shutdown: streams end, and clients reconnect (with Last-Event-ID) elsewhere. */
  shutdown: AbortSignal;
  metrics?: Pick<ApiMetrics, "sseStreams">;
}

export function lastEventId(ctx: Context): number {
  const raw = ctx.get("Last-Event-ID") || (typeof ctx.query.lastEventId === "string" ? ctx.query.lastEventId : "");
  const n = /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}

/** Streams the events of a job the caller has been authorised for. */
export async function streamJobEvents(ctx: Context, job: JobRecord, deps: SseDeps): Promise<void> {
  const id = job.id;
  let sent = lastEventId(ctx);
  if (isTerminal(job.status) && sent >= job.version) {
    // The client has the end already. A 200 stream that ends makes a browser's EventSource
    // reconnect every `retry` ms for ever; a 204 makes it stop for good.
    ctx.status = 204;
    ctx.set("Cache-Control", "no-store");
    return;
  }

  const stream = new PassThrough();
  let open = true;
  deps.metrics?.sseStreams.inc(); // finish() takes it back, once
  let unwatch: (() => Promise<void>) | null = null;
  let heartbeat: NodeJS.Timeout | undefined;
  const finish = () => {
    if (!open) return;
    open = false;
    deps.metrics?.sseStreams.dec();
    clearInterval(heartbeat);
    stream.end();
    unwatch?.().catch(() => {});
  };
  /** Sends a view (served: see served-resource.ts) newer than the last one sent. */
  const send = (v: JobView | null) => {
    if (!open) return;
    if (!v) return finish(); // expired
    if (v.version > sent) {
      sent = v.version;
      stream.write(`id: ${v.version}\nevent: job\ndata: ${JSON.stringify(v)}\n\n`);
    }
    if (isTerminal(v.status)) finish();
  };
  const sendStored = (r: JobRecord | null) => send(r && servedView(r, deps.resourceOrigins));

  ctx.res.on("close", finish);
  deps.shutdown.addEventListener("abort", finish, { once: true });
  ctx.res.on("close", () => deps.shutdown.removeEventListener("abort", finish));
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.type = "text/event-stream";
  ctx.set("Cache-Control", "no-store");
  ctx.set("X-Accel-Buffering", "no"); // nginx: do not buffer this response
  ctx.body = stream;
  stream.write("retry: 2000\n\n");

  // Subscribe first, then read: nothing falls in between.
  unwatch = await deps.changes.watch(id, (view) => send(serveView(view, deps.resourceOrigins)));
  if (!open) await unwatch();
  sendStored(await deps.store.get(id));
  heartbeat = setInterval(() => {
    if (!open) return;
    stream.write(": heartbeat\n\n");
    deps.store
      .get(id)
      .then(sendStored, (err: unknown) => deps.log.warn("SSE resync failed", { jobId: id, error: String(err) }));
  }, deps.heartbeatMs);
}
