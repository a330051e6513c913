// One measured phase: CPU and RSS of every watched process read before and after it.
import type { Child } from "./procs.ts";
import type { ProcUsage } from "./result.ts";
import { snapshot, usageBetween, type Watched } from "./usage.ts";

export const watch = (...children: readonly Child[]): Watched[] => children.map((c) => ({ name: c.name, pid: c.pid }));

export async function measured<T>(
  procs: readonly Watched[],
  run: () => Promise<T>,
): Promise<{ result: T; processes: ProcUsage[]; seconds: number }> {
  const before = snapshot(procs);
  const t = performance.now();
  const result = await run();
  const seconds = (performance.now() - t) / 1000;
  return { result, processes: usageBetween(procs, before, snapshot(procs)), seconds };
}
