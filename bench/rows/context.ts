// What every row gets: the settings, the broker processes to watch, a cleanup list, and the figures
// earlier rows of the same run measured (so a baseline is measured once and a later row can cite it).
import type { Cleanup } from "../cleanup.ts";
import type { BenchOptions } from "../options.ts";
import type { Measure, RowResult } from "../result.ts";
import type { Watched } from "../usage.ts";

export interface RowContext {
  readonly opts: BenchOptions;
  readonly brokers: readonly Watched[];
  readonly cleanup: Cleanup;
  /** Measurements shared between rows of one run, by key (e.g. "koa-post", "herald-sustained"). */
  readonly shared: Map<string, Measure>;
  /** A helper process (load generator, clients, bare servers) made once per run and reused by later
   * rows: `make` registers its own stop with the run-level cleanup it is given. */
  keep<T>(key: string, make: (runCleanup: Cleanup) => Promise<T>, alive?: (made: T) => boolean): Promise<T>;
  /** Progress lines on stderr. */
  log(line: string): void;
}

export interface Row {
  readonly id: string;
  readonly title: string;
  run(ctx: RowContext): Promise<RowResult>;
}
