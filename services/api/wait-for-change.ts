// Holds a request until a job reaches a wanted state or time runs out (long polling).
import type { JobChangeFeed } from "../../shared/events/job-changes.ts";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import type { ApiMetrics } from "../../shared/observability/metrics.ts";
import type { JobStore } from "../../shared/store/job-store.ts";

/**
 * Resolves with the first record that satisfies `wanted`, or the latest known record when
 * `timeoutMs` passes or `signal` aborts. Subscribes first and reads the store second, so a
 * change committed in between is never missed. A change event carries the job's view, not its
 * record: `wanted` looks at what both have, and the record it wants is then read from the store
 * (one read per hold that ends, not one per change).
 */
export async function waitFor(
  deps: { store: JobStore; changes: JobChangeFeed; metrics?: Pick<ApiMetrics, "longPolls"> },
  id: string,
  wanted: (r: Pick<JobRecord, "version" | "status">) => boolean,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<JobRecord | null> {
  let latest: JobRecord | null = null;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const consider = (r: JobRecord | null) => {
    if (r && (!latest || r.version > latest.version)) latest = r;
    if (latest && wanted(latest)) settle();
  };
  let reading = false;
  const hinted = (view: Pick<JobRecord, "version" | "status">) => {
    if (reading || (latest && view.version <= latest.version) || !wanted(view)) return;
    reading = true;
    deps.store.get(id).then(
      (r) => {
        reading = false;
        consider(r);
      },
      () => settle(), // the store is not there: answer with what we have
    );
  };
  const unwatch = await deps.changes.watch(id, hinted);
  const timer = setTimeout(settle, timeoutMs);
  signal.addEventListener("abort", settle, { once: true });
  deps.metrics?.longPolls.inc();
  try {
    consider(await deps.store.get(id));
    await settled;
    // Timed out: a change whose notification was lost (pub/sub is at most once) still counts.
    if (!(latest && wanted(latest)) && !signal.aborted) consider(await deps.store.get(id).catch(() => null));
    return latest;
  } finally {
    deps.metrics?.longPolls.dec();
    clearTimeout(timer);
    signal.removeEventListener("abort", settle);
    await unwatch();
  }
}
