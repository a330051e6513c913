// The `herald` CLI's exit codes: stable, documented in README.md#cli, so scripts can branch on them.
export const exitCodes = {
  /** Done: the job succeeded (submit --watch), or the command did what it was asked. */
  ok: 0,
  /** The watched job ended `failed`. */
  jobFailed: 1,
  /** Usage: a bad option or argument, a payload that is not a JSON object, or the API refused
   * the request as invalid (400/422: unknown job type, invalid payload). */
  usage: 2,
  /** The watched job ended `canceled`. */
  jobCanceled: 3,
  /** The API (or, for `dlq`, a broker) could not be reached; or the API was lost while watching. */
  unreachable: 4,
  /** The API answered with another problem (401, 404, 409 job already finished, 429, 503…). */
  refused: 5,
  /** Anything else: an unexpected error (its stack is printed). */
  internal: 70,
  /** Interrupted (Ctrl-C) while watching: the job goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];
