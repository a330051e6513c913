// HTTP pieces several rows share: the load generator process, the bare Koa server, one warm-up plus
// one measured autocannon phase, and a Herald job to take the JSON bodies from.
import type { LoadResult, LoadSpec } from "../load/http-load.ts";
import { measured } from "../phase.ts";
import { type Child, spawnNode } from "../procs.ts";
import type { ProcUsage } from "../result.ts";
import type { Watched } from "../usage.ts";
import type { RowContext } from "./context.ts";

/** fetch, tried again (up to 3 times) when the connection fails before an answer: a keep-alive
 * connection the server closes just as it is reused ("other side closed") is a race of HTTP/1.1, not
 * a finding. Only for the bench's setup requests (a duplicate job there is harmless). */
export async function fetchRetry(url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof TypeError)) throw err;
    }
  }
}

/** The smallest job: the bench worker's no-op (see bench/procs/bench-jobs.ts). */
export const NOOP_JOB = JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } });

/** The HTTP load generator: one process, kept for the whole run. */
export function startLoad(ctx: RowContext): Promise<Child> {
  return ctx.keep(
    "load",
    async (runCleanup) => {
      const child = spawnNode("load", "bench/load/http-load.ts");
      runCleanup.add("stop load", () => child.stop());
      await child.ready();
      return child;
    },
    (c) => c.alive,
  );
}

/** The bare Koa server: one process, kept for the whole run (each row hands it its bodies). */
export function startKoa(ctx: RowContext): Promise<{ child: Child; url: string }> {
  return ctx.keep(
    "koa",
    async (runCleanup) => {
      const child = spawnNode("koa", "bench/bare/koa-server.ts", [], { probe: true });
      runCleanup.add("stop koa", () => child.stop());
      await child.ready();
      return { child, url: `http://127.0.0.1:${await child.request<number>("port")}` };
    },
    (k) => k.child.alive,
  );
}

/** A warm-up run (discarded), then the measured one, with every watched process's CPU and RSS. */
export async function httpPhase(
  ctx: RowContext,
  load: Child,
  spec: Omit<LoadSpec, "seconds" | "connections">,
  watched: readonly Watched[],
  seconds = ctx.opts.phaseSec,
): Promise<{ load: LoadResult; processes: ProcUsage[] }> {
  const full = { ...spec, connections: ctx.opts.connections };
  await load.request<LoadResult>("run", { ...full, seconds: ctx.opts.warmupSec });
  const { result, processes } = await measured([...watched, { name: load.name, pid: load.pid }, ...ctx.brokers], () =>
    load.request<LoadResult>("run", { ...full, seconds }),
  );
  if (result.ok === 0) throw new Error(`${spec.method} ${spec.url}: no 2xx answer; first: ${result.firstError}`);
  return { load: result, processes };
}

export interface SampleJob {
  readonly id: string;
  readonly token: string;
  /** The 202's body and the job view, as Herald sent them. */
  readonly acceptedBody: string;
  readonly viewBody: string;
}

/** Submits one no-op job and reads its view: run it where no worker runs, so it stays queued and
 * its status monitor answers 200 with the view a polling client sees while a job is in progress. */
export async function sampleJob(apiUrl: string): Promise<SampleJob> {
  const res = await fetchRetry(`${apiUrl}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: NOOP_JOB,
  });
  const acceptedBody = await res.text();
  if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${acceptedBody}`);
  const { id, token } = JSON.parse(acceptedBody) as { id: string; token: string };
  const view = await fetchRetry(`${apiUrl}/jobs/${id}`, {
    headers: { authorization: `Bearer ${token}` },
    redirect: "manual",
  });
  const viewBody = await view.text();
  if (view.status !== 200) throw new Error(`GET /jobs/${id} answered ${view.status}: ${viewBody}`);
  return { id, token, acceptedBody, viewBody };
}
