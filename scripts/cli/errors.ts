// What can end a `herald` command early, each with its exit code; main.ts prints and maps them.
import type { Problem } from "../../shared/jobs/schemas.ts";
import { type ExitCode, exitCodes } from "./exit-codes.ts";

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Printed (as JSON) after the message, e.g. the API's problem. */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, exitCodes.usage);
  }
}

/** The API answered with a problem: 400/422 mean the command's input was wrong (usage). */
export function apiProblem(status: number, problem: Problem | undefined, url: string): CliError {
  const code = status === 400 || status === 422 ? exitCodes.usage : exitCodes.refused;
  const what = problem?.detail ? `${problem.title}: ${problem.detail}` : (problem?.title ?? "no problem details");
  return new CliError(`the API answered ${status} (${what})`, code, problem ?? { url });
}

/** fetch failed before any answer: connection refused, DNS, reset, timeout. */
export function unreachable(url: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach the API at ${url} (${why}); set --url or HERALD_URL`, exitCodes.unreachable);
}

/** True for the TypeError Node's fetch throws when no HTTP answer came. */
export const isNetworkError = (err: unknown): boolean => err instanceof TypeError && "cause" in err;
