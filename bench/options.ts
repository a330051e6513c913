// The bench's settings: `npm run bench` (full, under 10 minutes) or `npm run bench -- --quick`
// (under 2 minutes: shorter phases, fewer clients); `--only accept,polling` runs only those rows.

export interface BenchOptions {
  readonly mode: "full" | "quick";
  /** Row ids to run; empty = all. */
  readonly only: readonly string[];
  /** HTTP connections / operations in flight of the throughput rows (the 50). */
  readonly connections: number;
  /** Unrecorded load before each measured phase. */
  readonly warmupSec: number;
  /** Measured phase of the accept, polling and baseline rows. */
  readonly phaseSec: number;
  /** Measured phase of the sustained and BullMQ rows (the 30 s). */
  readonly sustainedSec: number;
  /** Measured phase of each notification rate. */
  readonly notifySec: number;
  /** Idle clients of the held-connection row (the 10,000). */
  readonly heldClients: number;
  /** Length of each rate step of the fan-out row. */
  readonly fanoutStepSec: number;
  /** Herald's processes write V8 CPU profiles to bench/results/profiles/ (`--cpu-prof`). */
  readonly cpuProf: boolean;
}

export function parseArgs(argv: readonly string[], rowIds: readonly string[]): BenchOptions {
  let quick = false;
  let only: string[] = [];
  let cpuProf = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--quick") quick = true;
    else if (arg === "--cpu-prof") cpuProf = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const list = arg === "--only" ? argv[++i] : arg.slice("--only=".length);
      if (!list) throw new TypeError("--only needs a comma-separated list of rows");
      only = list.split(",").filter(Boolean);
    } else throw new TypeError(`unknown argument "${arg}" (use --quick, --cpu-prof, --only ${rowIds.join(",")})`);
  }
  const unknown = only.filter((id) => !rowIds.includes(id));
  if (unknown.length > 0) throw new TypeError(`--only: no row ${unknown.join(", ")} (rows: ${rowIds.join(", ")})`);
  return Object.freeze(
    quick
      ? {
          mode: "quick" as const,
          only,
          cpuProf,
          connections: 50,
          warmupSec: 1,
          phaseSec: 2,
          sustainedSec: 5,
          notifySec: 2,
          heldClients: 500,
          fanoutStepSec: 1,
        }
      : {
          mode: "full" as const,
          only,
          cpuProf,
          connections: 50,
          warmupSec: 3,
          phaseSec: 8,
          sustainedSec: 30,
          notifySec: 8,
          heldClients: 10_000,
          fanoutStepSec: 3,
        },
  );
}
