// The report: a fixed-width table (Herald rows carry their ratio to the raw row above them) and
// the same results as JSON.
import { describe, type MachineContext } from "./context.ts";
import type { Comparison, Measurement } from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import { ratio } from "./stats.ts";

export interface Ratios {
  readonly name: string;
  readonly p50: number;
  readonly p99: number;
  /** Herald ops/s ÷ raw ops/s (throughput rows only). */
  readonly opsPerSec: number | null;
}

export function ratiosOf(c: Comparison): Ratios[] {
  return c.herald.map((h) => ({
    name: h.name,
    p50: ratio(h.latency.p50, c.raw.latency.p50),
    p99: ratio(h.latency.p99, c.raw.latency.p99),
    opsPerSec: h.opsPerSec === null ? null : ratio(h.opsPerSec, c.raw.opsPerSec),
  }));
}

const labelWidth = 56;
const columns = [
  ["n", 6],
  ["err", 5],
  ["p50", 8],
  ["p95", 8],
  ["p99", 8],
  ["mean", 8],
  ["ops/s", 9],
  ["cpu/op", 8],
] as const;
const ratioColumns = [
  ["p50", 7],
  ["p99", 7],
  ["ops/s", 7],
] as const;

export function renderTable(comparisons: readonly Comparison[], context: MachineContext, o: BenchOptions): string {
  const header =
    " ".repeat(labelWidth) +
    columns.map(([name, width]) => name.padStart(width)).join("") +
    " │" +
    ratioColumns.map(([name, width]) => name.padStart(width)).join("");
  const rule = "─".repeat(header.length);
  const lines = [
    `Herald vs raw components · ${context.startedAt}`,
    describe(context),
    `latency in ms · N=${o.samples} per one-at-a-time row (after ${o.warmup} warm-up rounds), ` +
      `${o.throughputOps} per ${o.concurrency}-in-flight row · time budget ${o.maxMs / 1000} s per run`,
    "",
    `${" ".repeat(labelWidth + columns.reduce((sum, [, w]) => sum + w, 0))} │ ${"Herald/raw".padStart(19)}`,
    header,
    rule,
  ];
  for (const c of comparisons) {
    lines.push(c.title);
    lines.push(row(c.raw, null));
    ratiosOf(c).forEach((r, i) => {
      const h = c.herald[i];
      if (h) lines.push(row(h, r));
    });
  }
  lines.push(rule, ...footnotes(comparisons));
  return lines.join("\n");
}

function row(m: Measurement, r: Ratios | null): string {
  const label = `  ${m.kind.padEnd(7)} ${m.name}`.padEnd(labelWidth).slice(0, labelWidth);
  const cells = [
    `${m.latency.n}${m.truncated ? "*" : ""}`,
    String(m.errors),
    ms(m.latency.p50),
    ms(m.latency.p95),
    ms(m.latency.p99),
    ms(m.latency.mean),
    m.opsPerSec === null || !Number.isFinite(m.opsPerSec) ? "–" : Math.round(m.opsPerSec).toString(),
    ms(m.cpuMsPerOp),
  ];
  const ratios =
    r === null ? ["", "", ""] : [times(r.p50), times(r.p99), r.opsPerSec === null ? "–" : times(r.opsPerSec)];
  return (
    label +
    cells.map((cell, i) => cell.padStart(columns[i]?.[1] ?? 8)).join("") +
    " │" +
    ratios.map((cell, i) => cell.padStart(ratioColumns[i]?.[1] ?? 7)).join("")
  );
}

function footnotes(comparisons: readonly Comparison[]): string[] {
  const all = comparisons.flatMap((c) => [c.raw, ...c.herald]);
  const notes = [
    "Herald/raw: a latency ratio above 1, or an ops/s ratio below 1, means Herald is slower.",
    "One process, one clock: the clients, the API and the workers share one event loop.",
    "cpu/op: CPU ms of this process per operation (raw: the client side; Herald: client, API and worker).",
  ];
  if (all.some((m) => m.truncated))
    notes.push("* the time budget (BENCH_SECONDS) or an interrupt ended this row early.");
  for (const m of all) {
    if (m.errors > 0) notes.push(`! ${m.kind} "${m.name}": ${m.errors} failed, first: ${m.firstError}`);
  }
  return notes;
}

function ms(x: number): string {
  if (!Number.isFinite(x)) return "–";
  if (x < 1) return x.toFixed(3);
  if (x < 100) return x.toFixed(2);
  return x.toFixed(1);
}

function times(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "–";
}

export function toJson(comparisons: readonly Comparison[], context: MachineContext, o: BenchOptions): string {
  const { signal: _signal, ...options } = o;
  return `${JSON.stringify(
    { context, options, comparisons: comparisons.map((c) => ({ ...c, ratios: ratiosOf(c) })) },
    (_key, value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? null : value),
    2,
  )}\n`;
}
