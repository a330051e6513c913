// Events at a steady rate, on both sides: Herald's ticker jobs (bench/procs/bench-jobs.ts: a worker's
// progress calls, each stamped with its wall-clock time) and a bare Socket.IO server's room emits
// (bench/bare/sio-server.ts, stamped the same way); clients (bench/load/socket-clients.ts) record
// each delivery's latency. Shared by the notification and fan-out rows.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { measured } from "../phase.ts";
import { TICK_LEAD_MS } from "../procs/bench-jobs.ts";
import { type Child, spawnNode } from "../procs.ts";
import type { ProcUsage } from "../result.ts";
import { type Latency, latencyOf } from "../stats.ts";
import type { Watched } from "../usage.ts";
import type { RowContext } from "./context.ts";
import { fetchRetry } from "./http.ts";

/** Open files of servers that hold many connections (raised up to the hard limit if need be). */
export const NOFILE = 65_536;

/** The demo schema's bound on steps: one ticker job lasts at most this many events. */
const MAX_STEPS = 1000;

export interface TickPlan {
  /** Jobs (Herald) or rooms (bare) ticking at once. */
  readonly sources: number;
  readonly stepMs: number;
  readonly steps: number;
  /** Events per second over all sources. */
  readonly rate: number;
}

/** `rate` events/s over `seconds`, from as few sources as keep each at ≤ `perSourceMax` events/s. */
export function tickPlan(rate: number, perSourceMax: number, seconds: number): TickPlan {
  const sources = Math.ceil(rate / perSourceMax);
  const stepMs = Math.max(1, Math.round((1000 * sources) / rate));
  const steps = Math.min(MAX_STEPS, Math.ceil((seconds * 1000) / stepMs));
  return { sources, stepMs, steps, rate: (sources * 1000) / stepMs };
}

export interface JobRef {
  readonly id: string;
  readonly token: string;
}

export async function submitTickers(apiUrl: string, plan: TickPlan): Promise<JobRef[]> {
  return Promise.all(
    Array.from({ length: plan.sources }, async () => {
      const res = await fetchRetry(`${apiUrl}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "demo", payload: { steps: plan.steps, stepMs: plan.stepMs } }),
      });
      const body = (await res.json()) as JobRef;
      if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${JSON.stringify(body)}`);
      return { id: body.id, token: body.token };
    }),
  );
}

/** Socket.IO client process number `index`, kept for the whole run; its sockets are closed when
 * the row that opened them ends (so each row numbers its sockets from 0). */
export async function startClients(ctx: RowContext, index: number): Promise<Child> {
  const child = await ctx.keep(
    `clients-${index}`,
    async (runCleanup) => {
      const c = spawnNode(`clients-${index}`, "bench/load/socket-clients.ts", [], {
        nodeArgs: ["--max-old-space-size=4096"],
      });
      runCleanup.add(`stop clients-${index}`, () => c.stop());
      await c.ready();
      return c;
    },
    (c) => c.alive,
  );
  ctx.cleanup.add(`close the sockets of clients-${index}`, () => child.alive && child.request("close"));
  return child;
}

/** Two bare Socket.IO servers (A, B) on one fresh Redis adapter key, with room for the held row's
 * connections; kept for the whole run. */
export function startBareSio(ctx: RowContext): Promise<{ child: Child; url: string }[]> {
  return ctx.keep(
    "sio",
    (runCleanup) => {
      const key = `bench-sio-${randomBytes(6).toString("hex")}`;
      return Promise.all(
        ["A", "B"].map(async (letter) => {
          const name = `sio-${letter}`;
          const child = spawnNode(name, "bench/bare/sio-server.ts", [], {
            env: { BENCH_ADAPTER_KEY: key },
            probe: true,
            nofile: NOFILE,
          });
          runCleanup.add(`stop ${name}`, () => child.stop());
          await child.ready();
          return { child, url: `http://127.0.0.1:${await child.request<number>("port")}` };
        }),
      );
    },
    (pair) => pair.every((s) => s.child.alive),
  );
}

export interface Window {
  readonly delivered: number;
  readonly seconds: number;
  readonly latency: Latency;
  readonly processes: ProcUsage[];
}

/** Waits `warmMs`, then records deliveries at every client for `seconds`. */
export async function recordWindow(
  clients: readonly Child[],
  warmMs: number,
  seconds: number,
  watched: readonly Watched[],
): Promise<Window> {
  await sleep(warmMs);
  const phase = await measured(watched, async () => {
    await Promise.all(clients.map((c) => c.request("record", { on: true })));
    await sleep(seconds * 1000);
    await Promise.all(clients.map((c) => c.request("record", { on: false })));
  });
  const results = await Promise.all(clients.map((c) => c.request<{ delivered: number; samples: number[] }>("results")));
  return {
    delivered: results.reduce((sum, r) => sum + r.delivered, 0),
    seconds: phase.seconds,
    latency: latencyOf(results.flatMap((r) => r.samples)),
    processes: phase.processes,
  };
}

/** How long after submitting tickers the first event comes: the handler's lead. */
export const TICK_LEAD = TICK_LEAD_MS;
