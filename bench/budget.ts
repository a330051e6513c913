// What a measured rate cost the whole machine, and whether a goal's rate fits in it: the CPU of
// every process of the phase (Herald's, the load generator's, the brokers'), per operation. On a
// machine of a few cores every process of a row shares them, so a goal can ask for more CPU than
// there is even if each part is cheap. Pure.
import { num } from "./report.ts";
import type { Measure } from "./result.ts";

export interface Budget {
  /** CPU ms per operation of each process of the phase. */
  readonly perOp: ReadonlyMap<string, number>;
  /** Their sum. */
  readonly cpuMsPerOp: number;
  /** Cores the phase's processes used together (CPU seconds per second of the phase). */
  readonly cores: number;
}

/** The machine's share of `m`'s phase; undefined without a rate and a count to divide by. */
export function machineBudget(m: Measure): Budget | undefined {
  const ops = m.count ?? 0;
  const rate = m.rate ?? 0;
  if (!(ops > 0 && rate > 0)) return undefined;
  const perOp = new Map<string, number>();
  for (const p of m.processes) {
    if (Number.isFinite(p.cpuSec)) perOp.set(p.name, (perOp.get(p.name) ?? 0) + (p.cpuSec * 1000) / ops);
  }
  const cpuMsPerOp = [...perOp.values()].reduce((a, b) => a + b, 0);
  return { perOp, cpuMsPerOp, cores: (cpuMsPerOp / 1000) * rate };
}

/** CPU ms per operation that `cores` allow at `rate`, left for `herald` once the other processes
 * take what they took per operation in the measured phase. */
export function leftFor(budget: Budget, herald: readonly string[], rate: number, cores: number): number {
  const others = [...budget.perOp].filter(([name]) => !herald.includes(name)).reduce((sum, [, v]) => sum + v, 0);
  return (cores * 1000) / rate - others;
}

/** "<label> used X of N cores at R <unit>, C CPU ms per <op> over every process (name c · …)". */
export function usedText(m: Measure, cores: number, op: string): string | undefined {
  const b = machineBudget(m);
  return b && describeUse(m, b, cores, op);
}

function describeUse(m: Measure, b: Budget, cores: number, op: string): string {
  const parts = [...b.perOp]
    .filter(([, v]) => v > 0)
    .map(([name, v]) => `${name} ${v.toFixed(3)}`)
    .join(" · ");
  return (
    `${m.label} used ${b.cores.toFixed(2)} of ${cores} cores at ${num(m.rate)} ${m.unit}, ` +
    `${b.cpuMsPerOp.toFixed(3)} CPU ms per ${op} over every process (${parts})`
  );
}

/**
 * A report note: the cores Herald's phase used, and whether the goal's rate fits the machine if
 * every operation costs what it did, with the CPU that would leave Herald's own processes.
 */
export function budgetNote(
  m: Measure,
  opts: { goalRate: number; cores: number; herald: readonly string[]; op: string },
): string | undefined {
  const b = machineBudget(m);
  if (!b || !(opts.goalRate > 0)) return undefined;
  const heraldMs = opts.herald.reduce((sum, name) => sum + (b.perOp.get(name) ?? 0), 0);
  const need = (b.cpuMsPerOp / 1000) * opts.goalRate;
  const left = leftFor(b, opts.herald, opts.goalRate, opts.cores);
  return (
    `machine: ${describeUse(m, b, opts.cores, opts.op)}; at the goal's ${num(opts.goalRate)} ${m.unit} that is ${need.toFixed(2)} cores, ` +
    `which would leave ${opts.herald.join(" + ")} ${left.toFixed(3)} ms per ${opts.op} (they took ${heraldMs.toFixed(3)})`
  );
}
