// Notification latency, one change at a time: from the moment a change is made to the moment a
// subscriber holds it. Raw: a Redis PUBLISH reaching a SUBSCRIBE client. Herald: (a) the event
// path alone, a worker's emitter → the API's Redis adapter → a socket.io-client subscribed to the
// job's room; (b) what a worker really does per change, the compare-and-set commit (GET + Lua
// SET/PUBLISH) and then the emit. Every message carries a job view of the same size.

import { SocketIoJobEvents } from "../shared/events/socketio-job-events.ts";
import { toView } from "../shared/jobs/job-view.ts";
import type { JobView } from "../shared/jobs/schemas.ts";
import { createLogger } from "../shared/observability/log.ts";
import { transition } from "../shared/store/job-store.ts";
import { RedisJobStore } from "../shared/store/redis-job-store.ts";
import { connectSocket } from "../test/helpers/realtime.ts";
import { Arrivals } from "./arrivals.ts";
import { Cleanup } from "./cleanup.ts";
import { startBenchStack, submitDemo, subscribe } from "./herald.ts";
import { JsonClient } from "./http-client.ts";
import { alternate, type Comparison, type Probe } from "./measure.ts";
import { type BenchOptions, latencyPlan } from "./options.ts";
import { connectBenchRedis, rawNames } from "./raw.ts";

/** Versions of emit-only events, far above those the commits produce. */
const emitVersionBase = 1_000_000_000;

export async function notifyBench(opts: BenchOptions): Promise<Comparison[]> {
  const cleanup = new Cleanup();
  try {
    const stack = await startBenchStack(0); // no workers: only the bench changes the job
    cleanup.add("stack", () => stack.close());
    const arrivals = new Arrivals();
    cleanup.add("arrivals", () => arrivals.cancelAll("bench ended"));

    // A real job, and a socket subscribed to it through the API.
    const http = new JsonClient(stack.baseUrl);
    cleanup.add("http client", () => http.close());
    const job = await submitDemo(http);
    const socket = await connectSocket(stack.baseUrl);
    cleanup.add("socket", () => socket.close());
    socket.on("job", (view) => arrivals.arrive(`herald:${view.version}`));
    const snapshot = await subscribe(socket, job, opts.opTimeoutMs);

    // The worker's side: its own Redis connection for the store and the emitter, as in a worker.
    const workerRedis = await connectBenchRedis();
    cleanup.add("worker redis", () => workerRedis.close());
    const store = new RedisJobStore(workerRedis, stack.names, 3600);
    const events = new SocketIoJobEvents(workerRedis, stack.names, createLogger("warn", { service: "bench" }));

    // Raw: a publisher and a subscriber connection.
    const channel = rawNames(stack.names.namespace).notifyChannel;
    const [pub, sub] = await Promise.all([connectBenchRedis(), connectBenchRedis()]);
    cleanup.add("raw redis", () => Promise.all([pub.close(), sub.close()]));
    await sub.subscribe(channel, (message) => {
      const at = performance.now();
      const view = JSON.parse(message) as JobView; // parsed, as socket.io-client parses its packet
      arrivals.arrive(`raw:${view.version}`, at);
    });

    let published = 0;
    const raw: Probe = {
      kind: "raw",
      name: "Redis PUBLISH → SUBSCRIBE client",
      once: () => {
        const view: JobView = { ...snapshot, version: ++published };
        return arrivals.time(`raw:${view.version}`, opts.opTimeoutMs, () => pub.publish(channel, JSON.stringify(view)));
      },
    };

    let emitted = 0;
    const emitOnly: Probe = {
      kind: "herald",
      name: "emitter → adapter → socket.io client",
      once: () => {
        const view: JobView = { ...snapshot, version: emitVersionBase + ++emitted };
        return arrivals.time(`herald:${view.version}`, opts.opTimeoutMs, async () => events.publish(view));
      },
    };

    let version = snapshot.version;
    const commitAndEmit: Probe = {
      kind: "herald",
      name: "CAS commit + emit → socket.io client",
      once: () =>
        arrivals.time(`herald:${version + 1}`, opts.opTimeoutMs, async () => {
          const committed = await transition(store, job.id, (cur) => ({ progress: { percent: cur.version % 100 } }));
          if (!committed) throw new Error("the job vanished");
          version = committed.version;
          events.publish(toView(committed)); // what Worker.commit does after every committed change
        }),
    };

    const [rawResult, emitResult, commitResult] = await alternate([raw, emitOnly, commitAndEmit], latencyPlan(opts));
    if (!rawResult || !emitResult || !commitResult) throw new Error("a probe produced no measurement");
    return [
      {
        id: "notify",
        title: "Notification: a change → the subscriber has it (one at a time)",
        raw: rawResult,
        herald: [emitResult, commitResult],
      },
    ];
  } finally {
    await cleanup.run();
  }
}
