// `npm run bench`: Herald side by side with the raw components it is built from, in one run.
// Prints a table of latencies and ratios and writes bench/results/latest.json.
//
//   BENCH_N=1000         recorded operations per probe, one at a time (throughput rows: 2×)
//   BENCH_CONCURRENCY=32 operations in flight in throughput rows
//   BENCH_SECONDS=20     time budget per run (a run measures one raw probe and its Herald probes)
//   BENCH_TIMEOUT_MS=5000  an operation slower than this counts as failed
//   BENCH_ONLY=notify,accept,end-to-end  run only these scenarios
//
// Needs the local RabbitMQ and Redis (AMQP_URL, REDIS_URL as for the tests). Everything runs under
// a fresh `bench-…` namespace per scenario, removed afterwards; Ctrl-C stops early and cleans up.
import { mkdir, writeFile } from "node:fs/promises";
import { acceptBench } from "./accept.ts";
import { machineContext } from "./context.ts";
import { endToEndBench } from "./end-to-end.ts";
import type { Comparison } from "./measure.ts";
import { notifyBench } from "./notify.ts";
import { type BenchOptions, benchOptions } from "./options.ts";
import { renderTable, toJson } from "./report.ts";

const scenarios: readonly { name: string; run: (o: BenchOptions) => Promise<Comparison[]> }[] = [
  { name: "notify", run: notifyBench },
  { name: "accept", run: acceptBench },
  { name: "end-to-end", run: endToEndBench },
];

const resultsFile = new URL("./results/latest.json", import.meta.url);

async function main(): Promise<void> {
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    console.error("bench: interrupted; finishing the current step and cleaning up (Ctrl-C again to quit now)");
    interrupt.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  const opts = benchOptions(process.env, interrupt.signal);
  const only = (process.env.BENCH_ONLY ?? "").split(",").filter(Boolean);
  const unknown = only.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) throw new TypeError(`BENCH_ONLY: no scenario ${unknown.join(", ")}`);

  const context = await machineContext();
  const started = performance.now();
  const comparisons: Comparison[] = [];
  for (const scenario of scenarios) {
    if (only.length > 0 && !only.includes(scenario.name)) continue;
    if (interrupt.signal.aborted) break;
    console.error(`bench: ${scenario.name} … (${seconds(started)})`);
    comparisons.push(...(await scenario.run(opts)));
  }
  console.error(`bench: done in ${seconds(started)}`);

  console.log(renderTable(comparisons, context, opts));
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(resultsFile, toJson(comparisons, context, opts));
  console.error(`bench: wrote ${resultsFile.pathname}`);
  if (interrupt.signal.aborted) process.exitCode = 130;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

main().catch((err: unknown) => {
  console.error("bench: failed:", err);
  process.exitCode = 1;
});
