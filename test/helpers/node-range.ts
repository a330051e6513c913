// Just enough of npm's semver ranges for `engines.node` fields ("^20.19.0 || >=22.12.0", ">= 18"):
// is a version in a range, and which are the lowest versions a range admits.
type Version = readonly [number, number, number];
type Comparator = { op: ">=" | ">" | "<" | "<=" | "="; v: Version };

const parse = (text: string): Version => {
  const [a = 0, b = 0, c = 0] = text
    .replace(/^v/, "")
    .split(".")
    .map((p) => (p === "x" || p === "*" ? 0 : Number(p)));
  if (![a, b, c].every(Number.isInteger)) throw new Error(`not a version: ${text}`);
  return [a, b, c];
};
const compare = (x: Version, y: Version): number => x[0] - y[0] || x[1] - y[1] || x[2] - y[2];

function comparators(set: string): Comparator[] {
  const out: Comparator[] = [];
  for (const token of set
    .replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1")
    .trim()
    .split(/\s+/)) {
    if (token === "" || token === "*") continue;
    const m = /^(>=|<=|>|<|=|\^|~)?(.+)$/.exec(token);
    const op = m?.[1] ?? "=";
    const v = parse(m?.[2] ?? "");
    if (op === "^") out.push({ op: ">=", v }, { op: "<", v: v[0] > 0 ? [v[0] + 1, 0, 0] : [0, v[1] + 1, 0] });
    else if (op === "~") out.push({ op: ">=", v }, { op: "<", v: [v[0], v[1] + 1, 0] });
    else out.push({ op: op as Comparator["op"], v });
  }
  return out;
}

const holds = (version: Version, c: Comparator): boolean => {
  const d = compare(version, c.v);
  return { ">=": d >= 0, ">": d > 0, "<": d < 0, "<=": d <= 0, "=": d === 0 }[c.op];
};

export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split("||").some((set) => comparators(set).every((c) => holds(v, c)));
}

/** The lowest version each alternative of `range` admits ("0.0.0" where it has no lower bound). */
export function lowestVersions(range: string): string[] {
  return range.split("||").map((set) => {
    const lower = comparators(set).filter((c) => c.op === ">=" || c.op === "=");
    const v = lower.sort((x, y) => compare(y.v, x.v))[0]?.v ?? [0, 0, 0];
    return v.join(".");
  });
}
