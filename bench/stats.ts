// Summary statistics of latency samples (milliseconds) and the ratios of the report. Pure.

export interface Latency {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The p-th percentile (0..100) of ascending `sorted`, interpolating linearly between ranks. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const low = sorted[lo] ?? Number.NaN;
  const high = sorted[hi] ?? Number.NaN;
  return low + (high - low) * (rank - lo);
}

export function latencyOf(samples: readonly number[] | Float64Array): Latency {
  const sorted = Float64Array.from(samples).sort();
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** a / b, or NaN when either is missing or b is zero. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}

/** A growable sample buffer that does not box numbers (a 30 s row can record a million latencies). */
export class Samples {
  private buf = new Float64Array(1024);
  private size = 0;

  add(x: number): void {
    if (this.size === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.size++] = x;
  }

  get length(): number {
    return this.size;
  }

  latency(): Latency {
    return latencyOf(this.buf.subarray(0, this.size));
  }

  values(): Float64Array {
    return this.buf.subarray(0, this.size);
  }

  clear(): void {
    this.size = 0;
  }
}
