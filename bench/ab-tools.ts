// What the A/B scripts (cpu-ab.ts, worker-ab.ts) share: their option parsing, a process's CPU time,
// waiting for an API and stopping it, and the summary's median and load.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type autocannon from "autocannon";
import { serviceNodeFlags } from "../shared/runtime/node-flags.ts";
import { NOOP_JOB } from "./rows/http.ts";
import { readUsage } from "./usage.ts";

/** Removes `name VALUE` from `args` and returns VALUE (or `dflt`): what is left are the trees. */
export function takeOption(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1] ?? dflt;
  args.splice(i, 2);
  return v;
}

/** `--node-flags "…"`: the Node.js flags each tree's processes run with (space-separated; "" for none).
 * Default: Herald's service flags, as shipped (shared/runtime/node-flags.ts). */
export function takeNodeFlags(args: string[]): string[] {
  return takeOption(args, "--node-flags", serviceNodeFlags.join(" ")).split(" ").filter(Boolean);
}

/** CPU time (user + system) of a live process so far, ms. */
export function cpuMs(pid: number): number {
  const usage = readUsage(pid);
  if (!usage) throw new Error(`process ${pid} is gone`);
  return usage.cpuSec * 1000;
}

export async function untilReady(baseUrl: string): Promise<void> {
  while (
    !(await fetch(`${baseUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  )
    await sleep(100);
}

/** SIGTERM, resolved once it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** The autocannon request of a no-op job's submit. */
export const postNoopJob = (baseUrl: string): autocannon.Options => ({
  url: `${baseUrl}/jobs`,
  method: "POST",
  body: NOOP_JOB,
  headers: { "content-type": "application/json" },
});

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export const loadAverage = (): string => readFileSync("/proc/loadavg", "utf8").split(" ")[0] ?? "?";
