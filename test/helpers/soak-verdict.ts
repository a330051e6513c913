// What a soak job should have ended as, given its payload and the faults that provably hit it.
// The demo handler fails its first `failAttempts` tries on purpose (retryably); a worker killed
// with SIGKILL while running an attempt spends that attempt (the worker could not say it was
// interrupted). Nothing else may spend one: a graceful hand-back (SIGTERM), a RabbitMQ cut, a
// Redis restart or an API restart leave the attempt count as if they had not happened.
const base = "urn:herald:problem:";
export const PROBLEM = {
  jobFailed: `${base}job-failed`,
  attemptsExhausted: `${base}attempts-exhausted`,
  workerLost: `${base}worker-lost`,
} as const;

export type Expected = { status: "succeeded" } | { status: "failed"; errorTypes: readonly string[] };

/**
 * Plays the attempts 1..maxAttempts: an attempt killed by SIGKILL is spent, one at or below
 * `failAttempts` fails, the first other one succeeds. Out of attempts, the job fails: with the
 * handler's own error, or (its last attempt killed) as exhausted or its worker lost.
 */
export function expectedOutcome(failAttempts: number, maxAttempts: number, killed: ReadonlySet<number>): Expected {
  for (let n = 1; n <= maxAttempts; n++) {
    if (!killed.has(n) && n > failAttempts) return { status: "succeeded" };
  }
  return killed.has(maxAttempts)
    ? { status: "failed", errorTypes: [PROBLEM.attemptsExhausted, PROBLEM.workerLost] }
    : { status: "failed", errorTypes: [PROBLEM.jobFailed] };
}

export interface Ended {
  status: string;
  errorType?: string;
}

/** Null when `ended` is what `expected` allows, else why not. */
export function mismatch(expected: Expected, ended: Ended): string | null {
  if (ended.status !== expected.status) return `expected ${expected.status}, got ${ended.status}`;
  if (expected.status === "failed" && !expected.errorTypes.includes(ended.errorType ?? "")) {
    return `failed as expected, but with ${ended.errorType ?? "no error"} (expected ${expected.errorTypes.join(" or ")})`;
  }
  return null;
}
