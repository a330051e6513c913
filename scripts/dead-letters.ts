// `npm run dead-letters -- list` shows the dead-letter queue of HERALD_NAMESPACE;
// `npm run dead-letters -- replay --all` or `... replay <jobId> [<jobId> ...]` puts messages back
// on the jobs queue and resets their jobs to `queued` with a fresh set of attempts.
// The same as `herald dlq …` (scripts/cli/dlq.ts).
import { dlqCommand, dlqUsage } from "./cli/dlq.ts";
import { CliError } from "./cli/errors.ts";

try {
  process.exitCode = await dlqCommand(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof CliError)) throw err;
  console.error(`${err.message}\nusage: dead-letters ${dlqUsage}`);
  process.exitCode = err.exitCode;
}
