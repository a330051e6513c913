// `herald submit <type> --payload '{...}' [--watch]`: POST /jobs through the client library; with
// --watch, follow the job (Socket.IO, SSE, then polling) with a progress bar and print its result.
import { HeraldClient, HeraldRequestError, JobFailedError } from "../../shared/client/index.ts";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { type ApiTarget, fetchWithKey } from "./api.ts";
import { apiProblem, CliError, isNetworkError, UsageError, unreachable } from "./errors.ts";
import { type ExitCode, exitCodes } from "./exit-codes.ts";
import { parse, positionals, target, targetOptions } from "./options.ts";
import { progressView } from "./progress-view.ts";

const options = {
  ...targetOptions,
  payload: { type: "string", short: "p", default: "{}" },
  watch: { type: "boolean", short: "w", default: false },
} as const;

export async function submitCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals: found } = parse(args, options);
  const [type = ""] = positionals(found, ["type"]);
  const payload = parsePayload(values.payload);
  const api = target(values);
  const client = new HeraldClient({ baseUrl: api.url, fetch: fetchWithKey(api.apiKey) });
  try {
    const job = await submit(client, api, type, payload);
    const hint = `herald status ${job.id} --token ${job.token}`;
    if (!values.watch) {
      process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
      process.stderr.write(`accepted; follow it with: ${hint}\n`);
      return exitCodes.ok;
    }
    // The token is needed to cancel from elsewhere; it goes to the terminal, never to stdout.
    process.stderr.write(`job ${job.id} accepted (token ${job.token})\n`);
    return await watch(client, api, job, hint);
  } finally {
    client.close();
  }
}

function parsePayload(text: string): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--payload is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new UsageError("--payload must be a JSON object, e.g. '{\"steps\": 5}'");
  }
  return payload as Record<string, unknown>;
}

async function submit(client: HeraldClient, api: ApiTarget, type: string, payload: unknown): Promise<AcceptedJob> {
  try {
    return await client.submit(type, payload);
  } catch (err) {
    if (err instanceof HeraldRequestError) throw apiProblem(err.status, err.problem, api.url);
    if (isNetworkError(err)) throw unreachable(api.url, err);
    throw err;
  }
}

async function watch(client: HeraldClient, api: ApiTarget, job: AcceptedJob, hint: string): Promise<ExitCode> {
  const view = progressView();
  const watching = client.watch(job, { onUpdate: (v) => view.update(v) });
  // Ctrl-C stops watching, not the job.
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    watching.close();
  };
  process.once("SIGINT", onSigint);
  try {
    const result = await watching.result();
    view.stop();
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return exitCodes.ok;
  } catch (err) {
    view.stop();
    if (err instanceof JobFailedError) {
      const canceled = err.job.status === "canceled";
      process.stderr.write(
        `job ${job.id} ${err.job.status}${err.problem ? `: ${err.problem.detail ?? err.problem.title}` : ""}\n`,
      );
      if (err.problem) process.stderr.write(`${JSON.stringify(err.problem, null, 2)}\n`);
      return canceled ? exitCodes.jobCanceled : exitCodes.jobFailed;
    }
    if (interrupted) {
      process.stderr.write(`stopped watching; the job goes on: ${hint}\n`);
      return exitCodes.interrupted;
    }
    if (err instanceof HeraldRequestError) throw apiProblem(err.status, err.problem, api.url);
    throw new CliError(`lost the job while watching (${(err as Error).message}); ${hint}`, exitCodes.unreachable);
  } finally {
    process.off("SIGINT", onSigint);
    watching.close();
  }
}
