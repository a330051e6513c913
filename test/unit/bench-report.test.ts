// The bench's pure parts: percentiles, ratios and goals, argument parsing, the report's formatting.
import { expect } from "chai";
import { budgetNote, leftFor, machineBudget } from "../../bench/budget.ts";
import { parseArgs } from "../../bench/options.ts";
import { renderMarkdown, renderTable, toJson } from "../../bench/report.ts";
import { compare, cpuMsPerOp, type RowResult } from "../../bench/result.ts";
import { latencyOf, percentile, ratio, Samples } from "../../bench/stats.ts";

const machine = {
  startedAt: "2026-11-27T00:00:00.000Z",
  node: "v20.20.2",
  platform: "linux x64",
  cores: 2,
  cpu: "Test CPU",
  memoryGb: 24,
  load: [1.5, 2],
  redis: "7.0.15",
  rabbitmq: "3.10.8",
  mode: "quick" as const,
};

describe("bench stats and report", () => {
  it("interpolates percentiles between ranks and summarises p50/p99/p99.9", () => {
    expect(percentile([10, 20], 50)).to.equal(15);
    expect(percentile([], 50)).to.be.NaN;
    const samples = new Samples();
    for (let i = 1000; i >= 1; i--) samples.add(i); // unsorted on purpose, past the first buffer
    const l = samples.latency();
    expect(l.n).to.equal(1000);
    expect(l.p50).to.be.closeTo(500.5, 1e-9);
    expect(l.p99).to.be.closeTo(990.01, 1e-9);
    expect(l.p999).to.be.closeTo(999.001, 1e-9);
    expect(l.max).to.equal(1000);
    expect(latencyOf([]).p50).to.be.NaN;
  });

  it("gives a ratio only for two finite numbers and checks it against the goal", () => {
    expect(ratio(1, 0)).to.be.NaN;
    expect(ratio(undefined, 2)).to.be.NaN;
    expect(compare("x", 600, 1000, { atLeast: 0.5 })).to.include({ ratio: 0.6, met: true });
    expect(compare("x", 400, 1000, { atLeast: 0.5 }).met).to.equal(false);
    expect(compare("x", 3, 2, { atMost: 1.5 }).met).to.equal(true);
    expect(compare("x", 1, 0, { atLeast: 0.5 })).to.not.have.property("met");
    expect(compare("x", 1, 2)).to.not.have.property("met");
  });

  it("sums CPU ms per operation over the named processes only", () => {
    const procs = [
      { name: "api", pid: 1, cpuSec: 2, rssMb: 100 },
      { name: "worker", pid: 2, cpuSec: 1, rssMb: 100 },
      { name: "redis", pid: 3, cpuSec: 5, rssMb: 10 },
    ];
    expect(cpuMsPerOp(procs, ["api", "worker"], 1000)).to.equal(3);
    expect(cpuMsPerOp(procs, ["api"], 0)).to.be.NaN;
  });

  it("sums the CPU of every process of a phase per operation, the cores it used, and what a goal's rate leaves", () => {
    const m = {
      label: "Herald POST",
      side: "herald" as const,
      rate: 5000,
      unit: "req/s",
      count: 40_000, // 8 s
      processes: [
        { name: "api", pid: 1, cpuSec: 4, rssMb: 100 },
        { name: "load", pid: 2, cpuSec: 2, rssMb: 100 },
        { name: "rabbitmq", pid: 3, cpuSec: 3, rssMb: 100 },
        { name: "redis", pid: 4, cpuSec: Number.NaN, rssMb: 10 }, // gone: left out
      ],
    };
    const b = machineBudget(m);
    expect(b?.cpuMsPerOp).to.be.closeTo(0.225, 1e-9);
    expect(b?.cores).to.be.closeTo(1.125, 1e-9);
    expect(b?.perOp.get("api")).to.be.closeTo(0.1, 1e-9);
    // 2 cores at 8,000 req/s: 0.25 ms per request in all; load and RabbitMQ took 0.125 of it.
    expect(leftFor(b as NonNullable<typeof b>, ["api"], 8000, 2)).to.be.closeTo(0.125, 1e-9);
    const note = budgetNote(m, { goalRate: 8000, cores: 2, herald: ["api"], op: "request" });
    expect(note).to.include("used 1.13 of 2 cores").and.include("that is 1.80 cores").and.include("leave api 0.125 ms");
    expect(machineBudget({ ...m, count: 0 })).to.equal(undefined);
    expect(budgetNote(m, { goalRate: 0, cores: 2, herald: ["api"], op: "request" })).to.equal(undefined);
  });

  it("parses --quick and --only, and refuses unknown rows and arguments", () => {
    const ids = ["accept", "polling"];
    expect(parseArgs([], ids)).to.include({ mode: "full", heldClients: 10_000 });
    const quick = parseArgs(["--quick", "--only", "polling"], ids);
    expect(quick.mode).to.equal("quick");
    expect(quick.only).to.deep.equal(["polling"]);
    expect(parseArgs(["--only=accept,polling"], ids).only).to.deep.equal(ids);
    expect(() => parseArgs(["--only", "nope"], ids)).to.throw(TypeError, /no row nope/);
    expect(() => parseArgs(["--fast"], ids)).to.throw(TypeError, /unknown argument/);
  });

  it("prints every measurement, its processes and each ratio with its verdict", () => {
    const row: RowResult = {
      id: "polling",
      title: "3 Polling",
      measures: [
        {
          label: "GET",
          side: "herald",
          rate: 2500,
          unit: "req/s",
          latency: { n: 10, p50: 1.5, p99: 12, p999: 30, max: 31 },
          errors: 0,
          lost: 0,
          processes: [{ name: "api", pid: 7, cpuSec: 3.21, rssMb: 150.4 }],
        },
        { label: "Koa GET", side: "bare", rate: 10_000, unit: "req/s", processes: [] },
      ],
      comparisons: [compare("polling vs Koa GET", 2500, 10_000, { atLeast: 0.7 })],
      notes: ["a note"],
    };
    const table = renderTable([row], machine);
    expect(table).to.include("3 Polling");
    expect(table).to.match(/Herald GET\s+2500\s+req\/s\s+1\.50\s+12\.00\s+30\.00/);
    expect(table).to.include("api 3.2 s/150 MB");
    expect(table).to.include("Herald/bare polling vs Koa GET: 0.25× (goal ≥ 0.7×: missed)");
    expect(table).to.include("note: a note");
    expect(renderMarkdown([row])).to.include(
      "| polling | polling vs Koa GET | 2500 | 10.0k | 0.25× | ≥ 0.7× **missed** |",
    );
    const json = JSON.parse(toJson([{ ...row, comparisons: [compare("y", 1, 0)] }], machine));
    expect(json.rows[0].comparisons[0].ratio).to.equal(null);
    expect(json.machine.cores).to.equal(2);
  });
});
