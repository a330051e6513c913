// The catalogue of job types: name and payload schema. The API validates submissions with it;
// the worker pairs each entry with a handler. Types come from the same schemas.
import { z } from "zod";

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

export type JobCatalog = ReadonlyMap<string, JobType>;

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

export function catalog(types: readonly JobType[]): JobCatalog {
  const map = new Map<string, JobType>();
  for (const t of types) {
    if (map.has(t.name)) throw new TypeError(`job type ${t.name} defined twice`);
    map.set(t.name, t);
  }
  return map;
}

/** For trying Herald out and for tests: sleeps `stepMs` per step, reports progress, optionally fails. */
export const demoJob = defineJobType({
  name: "demo",
  description:
    "Counts through `steps` steps of `stepMs` ms each. With `fail`, fails for good after half of them; " +
    "with `failAttempts: n`, the first n tries fail (retryably) after half of them.",
  payload: z.strictObject({
    steps: z.int().min(1).max(1000).default(5),
    stepMs: z.int().min(0).max(60_000).default(200),
    fail: z.string().min(1).max(1000).optional(),
    failAttempts: z.int().min(0).max(100).optional(),
  }),
  retry: { maxAttempts: 3, backoffBaseMs: 200, backoffMaxMs: 2_000, timeoutMs: 10 * 60_000 },
});
export type DemoPayload = z.infer<typeof demoJob.payload>;

/** A realistic example: summarise an uploaded CSV document (row count, per-column statistics). */
export const csvSummaryJob = defineJobType({
  name: "csv-summary",
  description: "Parses a CSV document (RFC 4180) and returns per-column counts, distinct values and numeric stats.",
  payload: z.strictObject({
    csv: z.string().min(1).max(900_000),
    delimiter: z.enum([",", ";", "\t", "|"]).default(","),
    header: z.boolean().default(true),
  }),
});
export type CsvSummaryPayload = z.infer<typeof csvSummaryJob.payload>;

export const builtinJobTypes: JobCatalog = catalog([demoJob, csvSummaryJob]);
