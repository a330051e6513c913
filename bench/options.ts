// The bench's settings: defaults, environment, fail fast.
import type { LatencyPlan, ThroughputPlan } from "./measure.ts";

export interface BenchOptions {
  /** Recorded operations per probe in one-at-a-time runs (BENCH_N, default 1000). */
  readonly samples: number;
  /** Unrecorded operations per probe first (a tenth of `samples`, at least 20). */
  readonly warmup: number;
  /** Operations in flight in throughput runs (BENCH_CONCURRENCY, default 32). */
  readonly concurrency: number;
  /** Recorded operations per probe in throughput runs (2 × `samples`). */
  readonly throughputOps: number;
  /** Time budget of one run (all its probes), warm-up aside, which gets a quarter of it on top
   * (BENCH_SECONDS, default 20). Five runs: the whole bench stays near two minutes at worst. */
  readonly maxMs: number;
  /** One operation that takes longer than this counts as failed (BENCH_TIMEOUT_MS, default 5000). */
  readonly opTimeoutMs: number;
  /** Set when the user interrupts: loops stop and everything is cleaned up. */
  readonly signal: AbortSignal;
}

export function benchOptions(env: Record<string, string | undefined>, signal: AbortSignal): BenchOptions {
  const samples = positiveInt(env, "BENCH_N", 1000);
  return Object.freeze({
    samples,
    warmup: Math.max(20, Math.round(samples / 10)),
    concurrency: positiveInt(env, "BENCH_CONCURRENCY", 32),
    throughputOps: samples * 2,
    maxMs: positiveInt(env, "BENCH_SECONDS", 20) * 1000,
    opTimeoutMs: positiveInt(env, "BENCH_TIMEOUT_MS", 5_000),
    signal,
  });
}

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, not "${raw}"`);
  return value;
}

export function latencyPlan(o: BenchOptions): LatencyPlan {
  return { warmup: o.warmup, samples: o.samples, maxMs: o.maxMs, opTimeoutMs: o.opTimeoutMs, signal: o.signal };
}

export function throughputPlan(o: BenchOptions): ThroughputPlan {
  return {
    concurrency: o.concurrency,
    warmupOps: o.concurrency * 4,
    ops: o.throughputOps,
    maxMs: o.maxMs,
    opTimeoutMs: o.opTimeoutMs,
    signal: o.signal,
  };
}
