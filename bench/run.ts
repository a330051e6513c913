// `npm run bench` (full, under 10 minutes) · `npm run bench -- --quick` (under 2 minutes) ·
// `npm run bench -- --only accept,polling`. Herald as users run it (each server its own process,
// the load generator another) beside the bare parts it is built from, measured in the same run.
// Prints a table, writes bench/results/latest.json; see BENCHMARKS.md. Needs the local RabbitMQ and
// Redis (AMQP_URL, REDIS_URL as for the tests). Everything runs under fresh `bench-…` names, removed
// afterwards; every process the bench started is stopped, also on Ctrl-C.
import { mkdir, writeFile } from "node:fs/promises";
import { Cleanup } from "./cleanup.ts";
import { brokerProcesses, machineInfo } from "./machine.ts";
import { parseArgs } from "./options.ts";
import { killAllNow, stopAll } from "./procs.ts";
import { renderMarkdown, renderTable, toJson } from "./report.ts";
import type { Measure, RowResult } from "./result.ts";
import { acceptRow } from "./rows/accept.ts";
import { bullmqRow } from "./rows/bullmq.ts";
import type { Row } from "./rows/context.ts";
import { fanoutRow } from "./rows/fanout.ts";
import { heldRow } from "./rows/held.ts";
import { notifyRow } from "./rows/notify.ts";
import { pollingRow } from "./rows/polling.ts";
import { sustainedRow } from "./rows/sustained.ts";

const rows: readonly Row[] = [acceptRow, sustainedRow, pollingRow, notifyRow, heldRow, fanoutRow, bullmqRow];

const resultsDir = new URL("./results/", import.meta.url);

async function main(): Promise<void> {
  const opts = parseArgs(
    process.argv.slice(2),
    rows.map((r) => r.id),
  );
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    console.error("bench: interrupted; cleaning up (Ctrl-C again to quit now)");
    interrupt.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  process.on("exit", killAllNow);
  // A stray rejection (a helper process died mid-request) fails its row, not the whole run: the run
  // must reach its cleanup (namespaces, queues, processes).
  process.on("unhandledRejection", (err) => {
    console.error("bench: unhandled rejection:", err);
    process.exitCode = 1;
  });

  const machine = await machineInfo(opts.mode);
  const brokers = brokerProcesses();
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const shared = new Map<string, Measure>();
  const runCleanup = new Cleanup();
  const kept = new Map<string, Promise<unknown>>();
  const keep = async <T>(key: string, make: (c: Cleanup) => Promise<T>, alive?: (v: T) => boolean): Promise<T> => {
    const known = kept.get(key) as Promise<T> | undefined;
    // One that failed to start, or has died since (a crash in an earlier row), is made anew.
    const usable =
      known &&
      (await known.then(
        (v) => !alive || alive(v),
        () => false,
      ));
    if (known && usable) return known;
    const made = make(runCleanup);
    kept.set(key, made);
    return made;
  };
  const results: RowResult[] = [];
  for (const row of rows) {
    if (opts.only.length > 0 && !opts.only.includes(row.id)) continue;
    if (interrupt.signal.aborted) break;
    console.error(`bench: ${row.title} (${elapsed()})`);
    const cleanup = new Cleanup();
    const ctx = {
      opts,
      brokers,
      cleanup,
      shared,
      keep,
      log: (line: string) => console.error(`bench:   ${line} (${elapsed()})`),
    };
    try {
      results.push(await abortable(row.run(ctx), interrupt.signal));
    } catch (err) {
      if (interrupt.signal.aborted) break;
      console.error(`bench: row ${row.id} failed:`, err);
      process.exitCode = 1;
    } finally {
      await cleanup.run();
    }
  }
  await runCleanup.run();
  await stopAll();
  console.error(`bench: done in ${elapsed()}`);
  if (results.length === 0) return;
  console.log(renderTable(results, machine));
  console.log(`\n${renderMarkdown(results)}`);
  await mkdir(resultsDir, { recursive: true });
  const file = new URL("latest.json", resultsDir);
  await writeFile(file, toJson(results, machine));
  console.error(`bench: wrote ${file.pathname}`);
  if (interrupt.signal.aborted) process.exitCode = 130;
}

/** A row's promise, or a rejection as soon as the user interrupts (its cleanup still runs). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error("interrupted"));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

main().catch(async (err: unknown) => {
  console.error("bench: failed:", err);
  await stopAll().catch(() => {});
  process.exitCode = 1;
});
