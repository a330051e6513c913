// A Herald worker process as users run one (startWorker through services/worker/run.ts: the same
// engine, store, events, queue, registry announcement and config from the environment), with the
// bench's handler registry (bench-jobs.ts) instead of the bundled jobs: no-op and ticker jobs that
// the shipped handlers do not offer.
import { runWorkerProcess } from "../../services/worker/run.ts";
import { benchHandlers } from "./bench-jobs.ts";

await runWorkerProcess(benchHandlers);
