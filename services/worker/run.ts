// Runs a worker as a process of its own (`npm run start:worker`, `herald worker`): startWorker
// plus what a process needs, an orderly stop on SIGTERM/SIGINT and exit 1 when startup fails.
import { createLogger } from "../../shared/observability/log.ts";
import { exitOnSignals, exitOnStartupError } from "../../shared/runtime/shutdown.ts";
import type { HandlerRegistry } from "../../shared/worker/handlers.ts";
import { type RunningWorker, startWorker } from "../../shared/worker/start-worker.ts";

export async function runWorkerProcess(jobs: HandlerRegistry): Promise<void> {
  const bootLog = createLogger("info", { service: "worker" });
  let worker: RunningWorker;
  try {
    worker = await startWorker({ jobs });
  } catch (err) {
    exitOnStartupError(err, bootLog);
  }
  exitOnSignals(() => [["stop the worker", () => worker.stop()]], worker.log);
}
