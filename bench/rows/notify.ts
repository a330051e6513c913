// Row 4, notification: a job accepted on instance A, the client's socket on instance B, the worker in
// its own process; the handler's progress call → the client's callback, at a steady 100 and 1,000
// events/s. Baseline: bare Socket.IO server A emitting to a room, through the Redis adapter, to
// server B's client.
import { setTimeout as sleep } from "node:timers/promises";
import { startHerald } from "../herald.ts";
import { watch } from "../phase.ts";
import { type Comparison, compare, cpuMsPerOp, type Measure } from "../result.ts";
import type { Row } from "./context.ts";
import { fetchRetry } from "./http.ts";
import { recordWindow, startBareSio, startClients, submitTickers, TICK_LEAD, tickPlan } from "./ticks.ts";

const RATES = [100, 1000] as const;
/** Events/s of one ticker job (or bare room): 1,000 events/s come from 20 of them. */
const PER_SOURCE = 50;

export const notifyRow: Row = {
  id: "notify",
  title: "4 Notification: progress call (worker) → client callback, job on A, socket on B",
  async run(ctx) {
    const { opts } = ctx;
    const warmSec = Math.min(opts.warmupSec, 2);
    const span = warmSec + opts.notifySec + 1;
    const [herald, client, [sioA, sioB]] = await Promise.all([
      startHerald(ctx, { apis: 2, workers: 1 }),
      startClients(ctx, 0),
      startBareSio(ctx),
    ]);
    const [a, b] = herald.apis;
    const worker = herald.workers[0];
    if (!a || !b || !worker) throw new Error("Herald did not start");
    await client.request("connect", { url: b.url, count: 1 }); // socket 0: Herald B
    if (!sioA || !sioB) throw new Error("bare Socket.IO did not start");
    await client.request("connect", { url: sioB.url, count: 1 }); // socket 1: bare B
    const sampleRes = await fetchRetry(`${a.url}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } }),
    });
    const template = (await sampleRes.json()) as Record<string, unknown>;

    const measures: Measure[] = [];
    const comparisons: Comparison[] = [];
    for (const target of RATES) {
      const plan = tickPlan(target, PER_SOURCE, span);
      ctx.log(`Herald ${target} events/s (${plan.sources} ticker jobs)`);
      const jobs = await submitTickers(a.url, plan);
      await client.request("subscribe", { jobs, pairs: jobs.map((_, j) => [0, j]) });
      const h = await recordWindow([client], TICK_LEAD + warmSec * 1000, opts.notifySec, [
        ...watch(a.child, b.child, worker, client),
        ...ctx.brokers,
      ]);
      await sleep(1000); // the jobs' last ticks
      await client.request("unsubscribe", { jobs, pairs: jobs.map((_, j) => [0, j]) });

      ctx.log(`bare Socket.IO ${target} events/s`);
      const rooms = Array.from({ length: plan.sources }, (_, j) => `n${target}-${j}`);
      await client.request("join", { pairs: rooms.map((room) => [1, room]) });
      const emitting = sioA.child.request("emit", { rooms, steps: plan.steps, stepMs: plan.stepMs, template });
      emitting.catch(() => {}); // awaited below; observed now so that an early failure is no unhandled rejection
      const bare = await recordWindow([client], warmSec * 1000, opts.notifySec, [
        ...watch(sioA.child, sioB.child, client),
        ...ctx.brokers,
      ]);
      await emitting;

      const heraldMeasure: Measure = {
        label: `${target} events/s: progress → callback`,
        side: "herald",
        rate: h.delivered / h.seconds,
        unit: "events/s",
        count: h.delivered,
        latency: h.latency,
        cpuMsPerOp: cpuMsPerOp(h.processes, ["api-A", "api-B", "worker"], h.delivered),
        extra: { "intended/s": plan.rate },
        processes: h.processes,
      };
      const bareMeasure: Measure = {
        label: `${target} events/s: Socket.IO A → Redis adapter → B`,
        side: "bare",
        rate: bare.delivered / bare.seconds,
        unit: "events/s",
        count: bare.delivered,
        latency: bare.latency,
        cpuMsPerOp: cpuMsPerOp(bare.processes, ["sio-A", "sio-B"], bare.delivered),
        extra: { "intended/s": plan.rate },
        processes: bare.processes,
      };
      measures.push(heraldMeasure, bareMeasure);
      comparisons.push(
        compare(`notification p50 at ${target}/s`, h.latency.p50, bare.latency.p50, { atMost: 1.5 }),
        compare(`notification p99 at ${target}/s`, h.latency.p99, bare.latency.p99, { atMost: 2 }),
      );
    }
    return {
      id: "notify",
      title: this.title,
      measures,
      comparisons,
      notes: [
        `events from ${RATES.map((r) => tickPlan(r, PER_SOURCE, 1).sources).join(" and ")} ticker jobs (bare: rooms) at ${PER_SOURCE}/s each; ` +
          "latency = the worker's progress call (bare: A's emit) → the client's callback, wall clocks of one machine",
      ],
    };
  },
};
