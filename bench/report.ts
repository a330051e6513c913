// The report: a fixed-width table (each row's Herald and bare measurements, then the ratios and
// whether they meet the issue's goals) and the same results as JSON. Pure.
import type { Comparison, Goal, Measure, RowResult } from "./result.ts";

export interface MachineInfo {
  readonly startedAt: string;
  readonly node: string;
  readonly platform: string;
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGb: number;
  /** 1- and 5-minute load averages when the run started: other work on the machine skews results. */
  readonly load: readonly number[];
  readonly redis: string;
  readonly rabbitmq: string;
  readonly mode: "full" | "quick";
}

const labelWidth = 58;
const columns = [
  ["rate", 10],
  ["unit", 14],
  ["p50", 8],
  ["p99", 8],
  ["p99.9", 8],
  ["cpu ms/op", 10],
  ["err/lost", 10],
] as const;

export function renderTable(rows: readonly RowResult[], machine: MachineInfo): string {
  const header = " ".repeat(labelWidth) + columns.map(([name, width]) => name.padStart(width)).join("");
  const rule = "─".repeat(header.length);
  const lines = [
    `Herald vs bare parts · ${machine.startedAt} · ${machine.mode} run`,
    describeMachine(machine),
    "latency in ms · cpu ms/op: CPU of that side's own processes per operation (Herald: API + worker)",
    header,
    rule,
  ];
  for (const row of rows) {
    lines.push(row.title);
    for (const m of row.measures) lines.push(measureLine(m), processLine(m));
    for (const c of row.comparisons) lines.push(comparisonLine(c));
    for (const note of row.notes) lines.push(`    note: ${note}`);
  }
  lines.push(rule);
  return lines.join("\n");
}

export function describeMachine(m: MachineInfo): string {
  const load = m.load.map((l) => l.toFixed(2)).join("/");
  return (
    `node ${m.node} · ${m.platform} · ${m.cores} cores (${m.cpu}) · ${m.memoryGb} GB · load ${load} · ` +
    `redis ${m.redis} · rabbitmq ${m.rabbitmq}`
  );
}

function measureLine(m: Measure): string {
  const label = `  ${m.side === "herald" ? "Herald" : "bare  "} ${m.label}`.padEnd(labelWidth).slice(0, labelWidth);
  const bad = [m.errors, m.lost].some((x) => x !== undefined && x > 0);
  const cells = [
    num(m.rate),
    m.unit,
    ms(m.latency?.p50),
    ms(m.latency?.p99),
    ms(m.latency?.p999),
    ms(m.cpuMsPerOp),
    m.errors === undefined && m.lost === undefined ? "–" : `${m.errors ?? 0}/${m.lost ?? 0}${bad ? "!" : ""}`,
  ];
  return label + cells.map((cell, i) => cell.padStart(columns[i]?.[1] ?? 8)).join("");
}

function processLine(m: Measure): string {
  const procs = m.processes
    .map((p) => `${p.name} ${Number.isFinite(p.cpuSec) ? `${p.cpuSec.toFixed(1)} s/` : ""}${Math.round(p.rssMb)} MB`)
    .join(" · ");
  const extra = Object.entries(m.extra ?? {})
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(" · ");
  return `      ${[procs, extra].filter(Boolean).join(" │ ")}`;
}

function comparisonLine(c: Comparison): string {
  const verdict =
    c.goal === undefined ? "" : ` (goal ${goalText(c.goal)}: ${c.met === undefined ? "–" : c.met ? "met" : "missed"})`;
  return `    Herald/bare ${c.what}: ${times(c.ratio)}${verdict}`;
}

export function goalText(g: Goal): string {
  return [g.atLeast === undefined ? "" : `≥ ${g.atLeast}×`, g.atMost === undefined ? "" : `≤ ${g.atMost}×`]
    .filter(Boolean)
    .join(" and ");
}

export function num(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (Math.abs(x) >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (Math.abs(x) >= 100) return Math.round(x).toString();
  if (Math.abs(x) >= 1) return x.toFixed(1);
  return x.toFixed(3);
}

export function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x < 1) return x.toFixed(3);
  if (x < 100) return x.toFixed(2);
  return x.toFixed(1);
}

export function times(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "–";
}

/** A Markdown table of every comparison: the summary BENCHMARKS.md keeps. */
export function renderMarkdown(rows: readonly RowResult[]): string {
  const lines = ["| row | comparison | Herald | bare | ratio | goal |", "|---|---|---|---|---|---|"];
  for (const row of rows) {
    for (const c of row.comparisons) {
      const goal =
        c.goal === undefined ? "" : `${goalText(c.goal)} ${c.met === undefined ? "–" : c.met ? "met" : "**missed**"}`;
      lines.push(`| ${row.id} | ${c.what} | ${num(c.herald)} | ${num(c.bare)} | ${times(c.ratio)} | ${goal} |`);
    }
  }
  return lines.join("\n");
}

export function toJson(rows: readonly RowResult[], machine: MachineInfo): string {
  return `${JSON.stringify(
    { machine, rows },
    (_key, value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? null : value),
    2,
  )}\n`;
}
