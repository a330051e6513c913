// `herald status <id> --token …` and `herald cancel <id> --token …`: one request each; the job
// (or the API's problem) printed as JSON.
import { authHeaders, callApi } from "./api.ts";
import { UsageError } from "./errors.ts";
import { type ExitCode, exitCodes } from "./exit-codes.ts";
import { parse, positionals, target, targetOptions } from "./options.ts";

const options = { ...targetOptions, token: { type: "string", short: "t" } } as const;

export async function statusCommand(args: string[]): Promise<ExitCode> {
  return jobRequest(args, "GET");
}

export async function cancelCommand(args: string[]): Promise<ExitCode> {
  return jobRequest(args, "DELETE");
}

async function jobRequest(args: string[], method: "GET" | "DELETE"): Promise<ExitCode> {
  const { values, positionals: found } = parse(args, options);
  const [id = ""] = positionals(found, ["id"]);
  const api = target(values);
  if (!values.token && !api.apiKey) throw new UsageError("needs --token <token> (or the submitter's --api-key)");
  const job = await callApi(api, `/jobs/${encodeURIComponent(id)}`, {
    method,
    // A succeeded job's status is a 303 to its result; ask for the job itself.
    headers: { ...authHeaders(api, values.token), prefer: "return=representation" },
  });
  process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  return exitCodes.ok;
}
