// What a job type is: name, payload schema (zod), retry policy, version. A worker pairs each type
// with a handler and announces it in the job type registry (shared/registry/), which is what the
// API validates submissions against.
import type { z } from "zod";

export interface RetryPolicy {
  /** Tries in all, the first included. Default 3. */
  readonly maxAttempts: number;
  /** Backoff before try n+1: base * 2^(n-1), capped, with jitter. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** One try longer than this is aborted (its AbortSignal fires) and counts as failed.
   * Keep it under RabbitMQ's consumer ack timeout (30 min by default). */
  readonly timeoutMs: number;
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  timeoutMs: 15 * 60_000,
});

export interface JobType<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  /** Announced with the type; unset: a digest of the definition (shared/registry/announce.ts). */
  readonly version?: string;
  readonly description: string;
  readonly payload: S;
  readonly retry: RetryPolicy;
}

export interface JobTypeSpec<S extends z.ZodType> {
  name: string;
  version?: string;
  description: string;
  payload: S;
  retry?: Partial<RetryPolicy>;
}

export function defineJobType<S extends z.ZodType>(spec: JobTypeSpec<S>): JobType<S> {
  const retry = Object.freeze({ ...defaultRetryPolicy, ...spec.retry });
  if (!(retry.maxAttempts >= 1 && retry.timeoutMs > 0 && retry.backoffBaseMs >= 0)) {
    throw new TypeError(`job type ${spec.name}: invalid retry policy ${JSON.stringify(retry)}`);
  }
  return Object.freeze({
    name: spec.name,
    ...(spec.version !== undefined ? { version: spec.version } : {}),
    description: spec.description,
    payload: spec.payload,
    retry,
  });
}
