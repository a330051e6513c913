// The worker process with the bundled jobs (demo, csv-summary): connects to Redis and RabbitMQ,
// consumes jobs, stops gracefully on SIGTERM.
import { builtinHandlers } from "./jobs/index.ts";
import { runWorkerProcess } from "./run.ts";

await runWorkerProcess(builtinHandlers);
