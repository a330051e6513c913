// How samples are taken. Latency runs alternate the probes one operation at a time (raw, Herald,
// raw, ...; the starting probe rotates each round), so drift in machine load hits every probe
// alike. Throughput runs keep `concurrency` operations in flight, in blocks ordered A B … B A.
// Every loop is bounded by a count and by a time budget, and stops early when aborted.
import { type Summary, summarize } from "./stats.ts";

export type Implementation = "raw" | "herald";

export interface Probe {
  readonly kind: Implementation;
  /** What one operation is, e.g. "Redis PUBLISH → subscriber". */
  readonly name: string;
  /** Runs one operation; resolves to its latency in ms. */
  once(): Promise<number>;
}

export interface Measurement {
  readonly kind: Implementation;
  readonly name: string;
  readonly latency: Summary;
  /** Operations in flight at once. */
  readonly concurrency: number;
  /** Completed operations per second of wall time; null for one-at-a-time runs. */
  readonly opsPerSec: number | null;
  /** CPU time (user + system) this process spent per completed operation, ms: the client's share
   * for raw probes; client, API and worker together for Herald ones. */
  readonly cpuMsPerOp: number;
  readonly errors: number;
  readonly firstError: string | null;
  /** The time budget (or an interrupt) ended the run before the requested count. */
  readonly truncated: boolean;
}

/** One scenario: the raw baseline and the Herald paths measured against it in the same run. */
export interface Comparison {
  readonly id: string;
  readonly title: string;
  readonly raw: Measurement;
  readonly herald: readonly Measurement[];
}

interface Bounds {
  /** Time budget of the whole run's recorded part, all probes together (warm-up gets a quarter
   * of it on top). */
  maxMs: number;
  /** An operation that takes longer counts as failed. */
  opTimeoutMs: number;
  signal: AbortSignal;
}

export interface LatencyPlan extends Bounds {
  /** Unrecorded rounds first. */
  warmup: number;
  /** Recorded rounds (one operation per probe each). */
  samples: number;
}

export interface ThroughputPlan extends Bounds {
  concurrency: number;
  /** Unrecorded operations per probe first. */
  warmupOps: number;
  /** Recorded operations per probe, split over its two blocks. */
  ops: number;
}

/** Failures tolerated before a run is abandoned (a broken setup should stop the bench, not skew it). */
const errorBudget = (samples: number): number => Math.max(5, Math.ceil(samples * 0.02));

class Tally {
  readonly latencies: number[] = [];
  errors = 0;
  firstError: string | null = null;
  elapsedMs = 0;
  cpuMicros = 0;
  truncated = false;

  constructor(private readonly budget: number) {}

  /** Too many failures: the run is abandoned (concurrent lanes stop too). */
  get exhausted(): boolean {
    return this.errors > this.budget;
  }

  async record(probe: Probe, timeoutMs: number): Promise<void> {
    try {
      this.latencies.push(await withTimeout(probe.once(), timeoutMs, probe.name));
    } catch (err) {
      this.errors++;
      this.firstError ??= err instanceof Error ? err.message : String(err);
      if (this.exhausted) throw new Error(`${this.errors} failed operations; first: ${this.firstError}`);
    }
  }

  result(probe: Probe, concurrency: number, throughput: boolean): Measurement {
    const n = this.latencies.length;
    return {
      kind: probe.kind,
      name: probe.name,
      latency: summarize(this.latencies),
      concurrency,
      cpuMsPerOp: n > 0 ? this.cpuMicros / 1000 / n : Number.NaN,
      opsPerSec: throughput ? (n > 0 ? (n / this.elapsedMs) * 1000 : Number.NaN) : null,
      errors: this.errors,
      firstError: this.firstError,
      truncated: this.truncated,
    };
  }
}

/** One operation at a time, alternating the probes; warm-up operations are not recorded. */
export async function alternate(probes: readonly Probe[], plan: LatencyPlan): Promise<Measurement[]> {
  const warmupUntil = performance.now() + plan.maxMs / 4;
  for (let round = 0; round < plan.warmup && performance.now() < warmupUntil && !plan.signal.aborted; round++) {
    for (const probe of rotated(probes, round)) await withTimeout(probe.once(), plan.opTimeoutMs, probe.name);
  }
  const tallies = new Map(probes.map((p) => [p, new Tally(errorBudget(plan.samples))]));
  const deadline = performance.now() + plan.maxMs;
  let round = 0;
  for (; round < plan.samples && performance.now() < deadline && !plan.signal.aborted; round++) {
    for (const probe of rotated(probes, round)) {
      const tally = tallies.get(probe);
      if (!tally) continue;
      const cpu = process.cpuUsage();
      await tally.record(probe, plan.opTimeoutMs);
      tally.cpuMicros += cpuSince(cpu);
    }
  }
  return probes.map((probe) => {
    const tally = tallies.get(probe) ?? new Tally(0);
    tally.truncated = round < plan.samples;
    return tally.result(probe, 1, false);
  });
}

/** `concurrency` operations in flight per probe; blocks run A B … B A so drift cancels out. */
export async function saturate(probes: readonly Probe[], plan: ThroughputPlan): Promise<Measurement[]> {
  for (const probe of probes) {
    const warmup = new Tally(Number.POSITIVE_INFINITY);
    await runBlock(probe, warmup, plan.warmupOps, { ...plan, maxMs: plan.maxMs / 4 / probes.length });
    if (warmup.latencies.length === 0 && warmup.firstError) throw new Error(`warm-up failed: ${warmup.firstError}`);
  }
  const tallies = new Map(probes.map((p) => [p, new Tally(errorBudget(plan.ops))]));
  const order = [...probes, ...[...probes].reverse()];
  const perBlock = Math.ceil(plan.ops / 2);
  for (const probe of order) {
    const tally = tallies.get(probe);
    if (tally) await runBlock(probe, tally, perBlock, { ...plan, maxMs: plan.maxMs / order.length });
  }
  return probes.map((probe) => (tallies.get(probe) ?? new Tally(0)).result(probe, plan.concurrency, true));
}

async function runBlock(probe: Probe, tally: Tally, ops: number, plan: ThroughputPlan): Promise<void> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < ops && performance.now() - start < plan.maxMs && !plan.signal.aborted && !tally.exhausted) {
      started++;
      await tally.record(probe, plan.opTimeoutMs);
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, lane));
  tally.elapsedMs += performance.now() - start;
  tally.cpuMicros += cpuSince(cpu);
  if (started < ops) tally.truncated = true;
}

function cpuSince(previous: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(previous);
  return user + system;
}

function rotated<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
