// The catalogue of job types: name and payload schema. The API validates submissions with it;
// the worker pairs each entry with a handler. Types come from the same schemas.
import { z } from "zod";

export interface JobType<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly payload: S;
}

export type JobCatalog = ReadonlyMap<string, JobType>;

export function defineJobType<S extends z.ZodType>(def: JobType<S>): JobType<S> {
  return Object.freeze(def);
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
  description: "Counts through `steps` steps of `stepMs` ms each; fails with `fail` after half of them if given.",
  payload: z.strictObject({
    steps: z.int().min(1).max(1000).default(5),
    stepMs: z.int().min(0).max(60_000).default(200),
    fail: z.string().min(1).max(1000).optional(),
  }),
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
