// What a row produces: measurements (Herald and bare, side by side) and the ratios between them.
import { type Latency, ratio } from "./stats.ts";

/** CPU and memory of one process over a measured phase. */
export interface ProcUsage {
  readonly name: string;
  readonly pid: number;
  /** CPU seconds (user + system) spent during the measured phase. */
  readonly cpuSec: number;
  /** Resident set size at the end of the phase. */
  readonly rssMb: number;
}

export interface Measure {
  readonly label: string;
  readonly side: "herald" | "bare";
  /** The main throughput figure, in `unit`. */
  readonly rate?: number;
  readonly unit: string;
  /** Operations completed in the measured phase. */
  readonly count?: number;
  readonly errors?: number;
  /** Operations accepted but never completed (e.g. jobs without a terminal event). */
  readonly lost?: number;
  readonly latency?: Latency;
  /** CPU ms per operation summed over this side's own processes (Herald: API + worker). */
  readonly cpuMsPerOp?: number;
  /** Row-specific figures (heap per connection, event-loop delay, …). */
  readonly extra?: Readonly<Record<string, number>>;
  readonly processes: readonly ProcUsage[];
}

export interface Goal {
  readonly atLeast?: number;
  readonly atMost?: number;
}

export interface Comparison {
  readonly what: string;
  readonly herald: number;
  readonly bare: number;
  /** herald ÷ bare */
  readonly ratio: number;
  readonly goal?: Goal;
  /** Whether the ratio meets the goal (absent without a goal or a number). */
  readonly met?: boolean;
}

export interface RowResult {
  readonly id: string;
  readonly title: string;
  readonly measures: readonly Measure[];
  readonly comparisons: readonly Comparison[];
  readonly notes: readonly string[];
}

export function compare(what: string, herald: number | undefined, bare: number | undefined, goal?: Goal): Comparison {
  const r = ratio(herald, bare);
  const met =
    goal === undefined || !Number.isFinite(r)
      ? undefined
      : (goal.atLeast === undefined || r >= goal.atLeast) && (goal.atMost === undefined || r <= goal.atMost);
  return {
    what,
    herald: herald ?? Number.NaN,
    bare: bare ?? Number.NaN,
    ratio: r,
    ...(goal ? { goal } : {}),
    ...(met === undefined ? {} : { met }),
  };
}

/** CPU ms per operation summed over the named processes (NaN without operations). */
export function cpuMsPerOp(processes: readonly ProcUsage[], names: readonly string[], ops: number): number {
  if (!(ops > 0)) return Number.NaN;
  const sec = processes.filter((p) => names.includes(p.name)).reduce((sum, p) => sum + p.cpuSec, 0);
  return (sec * 1000) / ops;
}
