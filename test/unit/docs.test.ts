// The README documents every setting and every problem type, and its tables and examples must stay
// true: names users rely on must not drift, and neither may the values and statuses it states.
// (Examples that need a running API are checked in test/integration/readme-examples.test.ts.)
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { expect } from "chai";
import { problemKinds } from "../../shared/jobs/problems.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { lowestVersions, satisfies } from "../helpers/node-range.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

/** The rows of the markdown table that follows `heading` (cells trimmed, header and rule dropped). */
function tableAfter(text: string, heading: string): string[][] {
  const from = text.indexOf(heading);
  if (from < 0) throw new Error(`README has no "${heading}"`);
  const lines = text.slice(from).split("\n");
  const start = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim()),
    );
  }
  return rows.slice(2);
}

const withoutInstance = ({ instanceId: _, ...rest }: ReturnType<typeof loadConfig>) => rest;

describe("README", () => {
  const readme = read("README.md");

  it("documents every environment variable of shared/runtime/config.ts", () => {
    const vars =
      read("shared/runtime/config.ts")
        .match(/^ {2}([A-Z_]+):/gm)
        ?.map((l) => l.trim().slice(0, -1)) ?? [];
    expect(vars.length).to.be.greaterThan(20);
    for (const v of vars) expect(readme, v).to.include(`\`${v}\``);
  });

  it("documents every problem type", () => {
    for (const kind of Object.values(problemKinds)) expect(readme, kind.type).to.include(kind.type);
  });

  it("names the two commands, start and test", () => {
    expect(readme).to.include("npm install && npm start");
    expect(readme).to.include("npm test");
  });

  describe("issue 7 item 21: its tables and statements match the code", () => {
    it("the problem-types table gives each HTTP problem the status the API answers it with", () => {
      const rows = tableAfter(readme, "### Problem types");
      const documented = new Map(rows.map(([status, type]) => [type?.replaceAll("`", ""), Number(status)]));
      const kinds = Object.values(problemKinds);
      for (const k of kinds) if ("status" in k) expect(documented.get(k.type), k.type).to.equal(k.status);
      // A row may also show a job-failure type the API answers with (its status set where thrown).
      for (const type of documented.keys()) expect(kinds.map((k) => k.type)).to.include(type);
      expect(documented.size, "no type twice").to.equal(rows.length);
    });

    it("the job-failure table lists exactly the problems a failed job can carry", () => {
      const rows = tableAfter(readme, "A failed job's `error`");
      const documented = rows.map(([type]) => type?.replaceAll("`", "")).sort();
      const failures = Object.values(problemKinds)
        .filter((k) => !("status" in k))
        .map((k) => k.type)
        .sort();
      expect(documented).to.deep.equal(failures);
    });

    it("every default in the configuration table is the one loadConfig applies", () => {
      const rows = tableAfter(readme, "## Configuration");
      const defaults = withoutInstance(loadConfig({}));
      let checked = 0;
      for (const [variable, cell] of rows) {
        const name = /^`([A-Z_]+)`$/.exec(variable ?? "")?.[1];
        const literal = /^`([^`<>]*)`$/.exec(cell ?? "")?.[1];
        if (!name || literal === undefined) continue; // prose ("(unset)", "`1` with …"): not a literal
        // Setting the documented default explicitly must change nothing.
        expect(withoutInstance(loadConfig({ [name]: literal })), `${name}=${literal}`).to.deep.equal(defaults);
        checked++;
      }
      expect(checked, "literal defaults checked").to.be.at.least(25);
      expect(rows.find(([v]) => v === "`INSTANCE_ID`")?.[1]).to.equal("`<hostname>-<pid>`");
      expect(loadConfig({}).instanceId).to.equal(`${hostname()}-${process.pid}`);
    });

    it("BENCHMARKS.md's --only example names every row bench/run.ts runs, in order", () => {
      const imported = [...read("bench/run.ts").matchAll(/import \{ (\w+Row) \} from "\.\/rows\/([\w-]+)\.ts"/g)];
      const order = /const rows: readonly Row\[\] = \[([\w, ]+)\]/.exec(read("bench/run.ts"))?.[1]?.split(", ") ?? [];
      const ids = order.map((name) => {
        const file = imported.find((m) => m[1] === name)?.[2];
        return /^\s+id: "([\w-]+)",$/m.exec(read(`bench/rows/${file}.ts`))?.[1];
      });
      expect(ids.length).to.be.at.least(3);
      const only = /`npm run bench -- --only ([\w,-]+)`/.exec(read("BENCHMARKS.md"))?.[1]?.split(",");
      expect(only, "--only example").to.deep.equal(ids);
      expect(readme).to.include("BENCHMARKS.md");
    });

    it("states the Node.js versions package.json requires, which every dependency accepts", () => {
      const pkg = JSON.parse(read("package.json")) as {
        engines: { node: string };
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      const range = pkg.engines.node;
      expect(satisfies(process.version, range), `this Node (${process.version}) in ${range}`).to.equal(true);
      const lowest = lowestVersions(range);
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
        const theirs = (JSON.parse(read(`node_modules/${dep}/package.json`)) as { engines?: { node?: string } }).engines
          ?.node;
        if (!theirs) continue;
        for (const v of lowest) expect(satisfies(v, theirs), `${dep} (node ${theirs}) on Node ${v}`).to.equal(true);
      }
      const stated = /Node\.js ((?:[^;.]|\.\d)+)/.exec(readme)?.[1] ?? "";
      const versions = [...stated.matchAll(/(\d+\.\d+)/g)].map((m) => `${m[1]}.0`);
      expect(versions, `README: "Node.js ${stated}"`).to.deep.equal(lowest);
    });
  });
});
