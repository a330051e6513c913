// Reads Prometheus text (from /metrics or a registry) and looks samples up. Written by hand: the
// only text-format parser on npm (parse-prometheus-text-format 1.1.1) merges the series of a
// histogram with labels into one, dropping labels, sum and count. This one is strict: any line that
// is not a comment, a HELP/TYPE line or a well-formed sample of a declared family throws.

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  families: Family[];
  samples: Sample[];
  /** Sum of a counter's or gauge's series matching `labels`; 0 if none. */
  value(name: string, labels?: Record<string, string>): number;
  /** A histogram's observation count over every series matching `labels` (its `_count` samples). */
  count(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const SUFFIXES: Record<Family["type"], string[]> = {
  counter: ["", "_total", "_created"],
  gauge: [""],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  summary: ["", "_sum", "_count", "_created"],
  untyped: [""],
};

function parseLabels(raw: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < raw.length) {
    const start = LABEL.lastIndex;
    const m = LABEL.exec(raw);
    if (!m || m.index !== start) throw new Error(`bad labels in: ${line}`);
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}

function parseValue(raw: string, line: string): number {
  // Prometheus reads values with Go's ParseFloat: Inf and NaN in any case (prom-client writes "Nan").
  if (/^\+?inf$/i.test(raw)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(raw)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(raw)) return Number.NaN;
  const n = Number(raw);
  if (raw.trim() === "" || Number.isNaN(n)) throw new Error(`bad value in: ${line}`);
  return n;
}

export function parseMetrics(text: string): Scrape {
  const families: Family[] = [];
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      let family = families.find((f) => f.name === name);
      if (!family) {
        family = { name, type: "untyped", help: "" };
        families.push(family);
      }
      if (kind === "HELP") family.help = rest;
      else if (rest in SUFFIXES) family.type = rest as Family["type"];
      else throw new Error(`bad type in: ${line}`);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const name = m[1] as string;
    const owner = families.find((f) => SUFFIXES[f.type].some((s) => name === f.name + s));
    if (!owner) throw new Error(`sample of no declared family: ${line}`);
    samples.push({ name, labels: m[3] ? parseLabels(m[3], line) : {}, value: parseValue(m[4] as string, line) });
  }
  const sum = (name: string, labels: Record<string, string>) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((n, s) => n + s.value, 0);
  return {
    families,
    samples,
    value: (name, labels = {}) => sum(name, labels),
    count: (name, labels = {}) => sum(`${name}_count`, labels),
  };
}

/** GET a /metrics URL: checks the status, keeps the content type, parses. */
export async function scrape(url: string): Promise<Scrape & { contentType: string }> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
  return { ...parseMetrics(text), contentType: res.headers.get("content-type") ?? "" };
}
