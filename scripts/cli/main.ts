// The `herald` command (bin/herald.mjs): one module per subcommand, loaded only when used, so
// `herald status` does not load the Socket.IO client or the broker drivers.
import { CliError, UsageError } from "./errors.ts";
import { type ExitCode, exitCodes } from "./exit-codes.ts";

const usage = `usage: herald <command> [options]

  submit <type> [--payload '<json object>'] [--watch]
                              submit a job; prints its id and token, or with --watch a live
                              progress bar (stderr) and then the result (stdout)
  status <id> --token <token> the job as JSON
  cancel <id> --token <token> cancel the job; prints it as JSON
  dlq list                    the dead-letter queue (RabbitMQ, HERALD_NAMESPACE)
  dlq replay (--all | <id>…)  put dead letters back on the jobs queue
  api                         run the API in this process (as npm run start:api)
  worker [--jobs <module>]    run a worker in this process: the bundled jobs (as npm run start:worker),
                              or the job types a module default-exports (defineJob from herald/worker;
                              a path such as ./jobs.mjs or a package, resolved from the current folder)

options: --url <url> (else HERALD_URL, else http://127.0.0.1:3000), --api-key <key> (else HERALD_API_KEY)
exit codes: 0 ok, 1 job failed, 2 usage or invalid request, 3 job canceled, 4 API unreachable,
            5 API refused (401, 404, 409, 429, 503…), 70 unexpected error,
            130 interrupted while watching`;

type Command = (args: string[]) => Promise<ExitCode | null>;

const commands: Record<string, Command> = {
  submit: async (args) => (await import("./submit.ts")).submitCommand(args),
  status: async (args) => (await import("./jobs.ts")).statusCommand(args),
  cancel: async (args) => (await import("./jobs.ts")).cancelCommand(args),
  dlq: async (args) => (await import("./dlq.ts")).dlqCommand(args),
  api: async (args) => (await import("./services.ts")).serviceCommand("api", args),
  worker: async (args) => (await import("./services.ts")).serviceCommand("worker", args),
};

async function run(argv: string[]): Promise<ExitCode | null> {
  const [name, ...args] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    (name === undefined ? process.stderr : process.stdout).write(`${usage}\n`);
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${usage}\n`);
    return exitCodes.ok;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}"`);
  return command(args);
}

function report(err: unknown): ExitCode {
  if (err instanceof CliError) {
    process.stderr.write(`herald: ${err.message}\n`);
    if (err.details !== undefined) process.stderr.write(`${JSON.stringify(err.details, null, 2)}\n`);
    if (err instanceof UsageError) process.stderr.write("(herald --help lists the commands and options)\n");
    return err.exitCode;
  }
  // A broker the dlq commands could not reach, or a bug: say what, with the stack for the latter.
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ETIMEDOUT") {
    process.stderr.write(`herald: ${(err as Error).message}\n`);
    return exitCodes.unreachable;
  }
  process.stderr.write(`herald: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return exitCodes.internal;
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
const drained = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()));

const code = await run(process.argv.slice(2)).catch(report);
if (code !== null) {
  process.exitCode = code;
  // The command is done. A handle may still linger: fetch keeps its connection to the API open for
  // reuse (seconds), a socket may be in its close handshake. Neither may keep the command alive:
  // exit as soon as the output is out.
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
