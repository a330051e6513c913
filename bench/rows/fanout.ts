// Row 6, fan-out: rooms of 1 and of 100 subscribers over 2 instances (100 sockets, half on each);
// the event rate rises step by step until p99 passes 100 ms (or deliveries fall short); the highest
// sustained deliveries/s per instance. Herald: ticker jobs' progress, published by the worker process.
// Baseline: bare Socket.IO server A's room emits through the Redis adapter, clients on A and B.
import { setTimeout as sleep } from "node:timers/promises";
import { startHerald } from "../herald.ts";
import { watch } from "../phase.ts";
import type { Child } from "../procs.ts";
import { ms, num } from "../report.ts";
import { type Comparison, compare, cpuMsPerOp, type Measure } from "../result.ts";
import type { Watched } from "../usage.ts";
import type { Row, RowContext } from "./context.ts";
import {
  type JobRef,
  recordWindow,
  startBareSio,
  startClients,
  submitTickers,
  TICK_LEAD,
  type TickPlan,
  tickPlan,
  type Window,
} from "./ticks.ts";

const SOCKETS = 100;
// Ticker jobs run at once: the worker's prefetch is raised to SOURCES_MAX for this row.
/** Events/s of one ticker job (bare: room): a job's progress writes are ordered, so the rate is
 * spread over many jobs, at most SOURCES_MAX (the worker's prefetch in this row). */
const PER_SOURCE = 50;
const SOURCES_MAX = 128;
const P99_LIMIT_MS = 100;
/** Events/s per step, by room size (deliveries/s = events/s × room size). */
const LADDERS: Record<number, readonly number[]> = {
  1: [50, 200, 800, 2000, 4000, SOURCES_MAX * PER_SOURCE],
  100: [2, 8, 20, 50, 100, 250],
};

interface Step {
  readonly rate: number;
  readonly window: Window;
  readonly expected: number;
  readonly ok: boolean;
}

/** Socket k: even on instance A (client process 0), odd on B (client process 1). */
function pairsFor<T>(sources: number, size: number, ref: (j: number) => T): [[number, T][], [number, T][]] {
  const out: [[number, T][], [number, T][]] = [[], []];
  for (let j = 0; j < sources; j++) {
    for (let m = 0; m < size; m++) {
      const k = (j * size + m) % SOCKETS;
      (k % 2 === 0 ? out[0] : out[1]).push([Math.floor(k / 2), ref(j)]);
    }
  }
  return out;
}

async function ladder(ctx: RowContext, size: number, step: (plan: TickPlan) => Promise<Window>): Promise<Step[]> {
  const steps: Step[] = [];
  for (const rate of LADDERS[size] ?? []) {
    const plan = tickPlan(rate, PER_SOURCE, ctx.opts.fanoutStepSec + 1.5);
    const window = await step(plan);
    const expected = plan.rate * size * window.seconds;
    const ok = window.latency.p99 <= P99_LIMIT_MS && window.delivered >= 0.95 * expected;
    steps.push({ rate: plan.rate, window, expected, ok });
    if (!ok) break;
  }
  return steps;
}

function best(steps: readonly Step[]): Step | undefined {
  return [...steps].reverse().find((s) => s.ok);
}

function describe(steps: readonly Step[]): string {
  return steps
    .map(
      (s) =>
        `${num(s.rate)}/s ${s.ok ? "ok" : "over"} (p99 ${ms(s.window.latency.p99)} ms, ${Math.round((100 * s.window.delivered) / s.expected)}% delivered)`,
    )
    .join(", ");
}

export const fanoutRow: Row = {
  id: "fanout",
  title: `6 Fan-out: rooms of 1 and 100 over 2 instances, rate raised until p99 > ${P99_LIMIT_MS} ms`,
  async run(ctx) {
    const { opts } = ctx;
    const [herald, [sioA, sioB], clients] = await Promise.all([
      startHerald(ctx, { apis: 2, workers: 1, env: { WORKER_PREFETCH: String(SOURCES_MAX) } }),
      startBareSio(ctx),
      Promise.all([startClients(ctx, 0), startClients(ctx, 1)]),
    ]);
    const [a, b] = herald.apis;
    const worker = herald.workers[0];
    if (!a || !b || !worker) throw new Error("Herald did not start");
    if (!sioA || !sioB) throw new Error("bare Socket.IO did not start");
    const [clientA, clientB] = clients as [Child, Child];
    await Promise.all([
      clientA.request("connect", { url: a.url, count: SOCKETS / 2 }),
      clientB.request("connect", { url: b.url, count: SOCKETS / 2 }),
    ]);
    await Promise.all([
      clientA.request("connect", { url: sioA.url, count: SOCKETS / 2 }),
      clientB.request("connect", { url: sioB.url, count: SOCKETS / 2 }),
    ]);
    const template = { id: "00000000-0000-4000-8000-000000000000", type: "demo", status: "running", version: 3 };
    const heraldWatch: Watched[] = [...watch(a.child, b.child, worker, clientA, clientB), ...ctx.brokers];
    const bareWatch: Watched[] = [...watch(sioA.child, sioB.child, clientA, clientB), ...ctx.brokers];

    const measures: Measure[] = [];
    const comparisons: Comparison[] = [];
    const notes: string[] = [];
    for (const size of [1, 100]) {
      ctx.log(`Herald, rooms of ${size}`);
      const heraldSteps = await ladder(ctx, size, async (plan) => {
        const jobs = await submitTickers(a.url, plan);
        const pairs = pairsFor<number>(plan.sources, size, (j) => j);
        await Promise.all(clients.map((c, i) => c.request("subscribe", { jobs, pairs: pairs[i] })));
        const w = await recordWindow(clients, TICK_LEAD + 500, opts.fanoutStepSec, heraldWatch);
        await sleep(1500); // the jobs' last ticks
        await Promise.all(clients.map((c, i) => c.request("unsubscribe", { jobs: jobs as JobRef[], pairs: pairs[i] })));
        return w;
      });
      ctx.log(`bare Socket.IO, rooms of ${size}`);
      // Bare sockets follow Herald's in each client process: indexes from SOCKETS / 2 on.
      const bareSteps = await ladder(ctx, size, async (plan) => {
        const rooms = Array.from({ length: plan.sources }, (_, j) => `f${size}-${plan.rate}-${j}`);
        const pairs = pairsFor<string>(plan.sources, size, (j) => rooms[j] ?? "").map((list) =>
          list.map(([s, room]): [number, string] => [s + SOCKETS / 2, room]),
        );
        await Promise.all(clients.map((c, i) => c.request("join", { pairs: pairs[i] })));
        const emitting = sioA.child.request("emit", { rooms, steps: plan.steps, stepMs: plan.stepMs, template });
        emitting.catch(() => {}); // awaited below; observed now so that an early failure is no unhandled rejection
        emitting.catch(() => {}); // awaited below; observed now so that an early failure is no unhandled rejection
        const w = await recordWindow(clients, 500, opts.fanoutStepSec, bareWatch);
        await emitting;
        await Promise.all(clients.map((c, i) => c.request("leave", { pairs: pairs[i] })));
        return w;
      });
      for (const [side, steps] of [
        ["herald", heraldSteps],
        ["bare", bareSteps],
      ] as const) {
        const top = best(steps) ?? steps[0];
        const procs = side === "herald" ? ["api-A", "api-B", "worker"] : ["sio-A", "sio-B"];
        measures.push({
          label: `rooms of ${size}: best step ${top ? num(top.rate) : "–"} events/s${best(steps) ? "" : " (none passed)"}`,
          side,
          rate: best(steps) && top ? top.window.delivered / top.window.seconds / 2 : Number.NaN,
          unit: "deliv/s/inst",
          ...(top ? { count: top.window.delivered, latency: top.window.latency } : {}),
          ...(top ? { cpuMsPerOp: cpuMsPerOp(top.window.processes, procs, top.window.delivered) } : {}),
          processes: top?.window.processes ?? [],
        });
        notes.push(`${side === "herald" ? "Herald" : "bare"} rooms of ${size}: ${describe(steps)}`);
      }
      const h = measures.at(-2);
      const bare = measures.at(-1);
      comparisons.push(compare(`fan-out deliveries/s, rooms of ${size}`, h?.rate, bare?.rate, { atLeast: 0.8 }));
    }
    return { id: "fanout", title: this.title, measures, comparisons, notes };
  },
};
