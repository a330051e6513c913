// The HTTP load generator, in a process of its own: autocannon's programmatic API at a fixed number
// of connections for a fixed time. With a tracker (sustained row) it also follows each accepted job
// to its terminal event over Socket.IO.
import autocannon from "autocannon";
import { serve } from "../procs/ipc.ts";
import type { Latency } from "../stats.ts";
import { JobTracker, type TrackCounts } from "./job-tracker.ts";

export interface LoadSpec {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly connections: number;
  readonly seconds: number;
}

export interface LoadResult {
  readonly rate: number;
  readonly count: number;
  readonly ok: number;
  readonly errors: number;
  readonly latency: Latency;
  /** performance.now() of this process when the run started and ended (the tracker's window). */
  readonly from: number;
  readonly to: number;
  readonly firstError?: string;
}

let tracker: JobTracker | null = null;

async function run(spec: LoadSpec): Promise<LoadResult> {
  let firstError: string | undefined;
  const from = performance.now();
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    requests: [
      {
        method: spec.method,
        headers: { "content-type": "application/json", ...spec.headers },
        ...(spec.body === undefined ? {} : { body: spec.body }),
        onResponse: (status: number, body: string) => {
          if (status === 202 && tracker) tracker.onAccepted(body);
          else if (status >= 300 && firstError === undefined) firstError = `${status} ${body.slice(0, 300)}`;
        },
      },
    ],
  });
  const to = performance.now();
  const ok = result["2xx"];
  return {
    rate: (ok * 1000) / (to - from),
    count: result.requests.total,
    ok,
    errors: result.non2xx + result.errors + result.timeouts,
    latency: {
      n: result.requests.total,
      p50: result.latency.p50,
      p99: result.latency.p99,
      p999: result.latency.p99_9,
      max: result.latency.max,
    },
    from,
    to,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

serve({
  run: (spec: LoadSpec) => run(spec),
  track: async ({ url, sockets }: { url: string; sockets: number }) => {
    tracker = await JobTracker.connect(url, sockets);
  },
  untrack: () => {
    tracker?.close();
    tracker = null;
  },
  drain: ({ from, to, timeoutMs }: { from: number; to: number; timeoutMs: number }): Promise<TrackCounts> => {
    if (!tracker) throw new Error("drain before track");
    return tracker.drain(from, to, timeoutMs);
  },
});
