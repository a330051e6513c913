// `defineJob`: a job type and its handler in one value, the unit a user's jobs module exports
// (`export default [defineJob({ name, payload, run })]`). It is a RegisteredHandler, so the worker
// engine runs it exactly like the bundled jobs (services/worker/jobs/).
import type { z } from "zod";
import { defineJobType, type JobType, type RetryPolicy } from "../jobs/job-types.ts";
import { type HandlerContext, type HandlerRegistry, type RegisteredHandler, registry } from "./handlers.ts";

export interface JobSpec<S extends z.ZodType, R> {
  /** What clients submit as `type` (1 to 100 characters). */
  name: string;
  /** The payload's schema, built with the `z` that herald/worker exports. Payloads are parsed with
   * it before `run` sees them (defaults applied). */
  payload: S;
  /** Does the work; what it returns (JSON, or `resource(uri)`) is the job's result. Throw
   * `PermanentError` for a failure another try cannot fix; any other error is retried. */
  run(payload: z.output<S>, ctx: HandlerContext): R | Promise<R>;
  retry?: Partial<RetryPolicy>;
  description?: string;
  /** Names this type's contract. Default: a digest of the definition, so a new payload schema is a
   * new version (the job type registry announces it). */
  version?: string;
}

// A global symbol: a jobs module may load another copy of herald/worker than the one running it.
const jobTag = Symbol.for("herald.job");

export interface JobDefinition<S extends z.ZodType = z.ZodType> extends RegisteredHandler {
  readonly type: JobType<S>;
  readonly [jobTag]: true;
}

export function defineJob<S extends z.ZodType, R>(spec: JobSpec<S, R>): JobDefinition<S> {
  if (typeof spec !== "object" || spec === null) throw new TypeError("defineJob expects { name, payload, run }");
  if (typeof (spec.payload as { safeParse?: unknown } | undefined)?.safeParse !== "function") {
    throw new TypeError(`job type ${spec.name}: payload must be a zod schema (use the z exported by herald/worker)`);
  }
  if (!(typeof spec.name === "string" && spec.name.length >= 1 && spec.name.length <= 100)) {
    throw new TypeError(`defineJob: name must be a string of 1 to 100 characters, got ${JSON.stringify(spec.name)}`);
  }
  if (spec.version !== undefined && !(typeof spec.version === "string" && spec.version.length >= 1)) {
    throw new TypeError(`job type ${spec.name}: version must be a non-empty string`);
  }
  if (typeof spec.run !== "function") throw new TypeError(`job type ${spec.name}: run must be a function`);
  const type = defineJobType({
    name: spec.name,
    description: spec.description ?? "",
    payload: spec.payload,
    ...(spec.retry ? { retry: spec.retry } : {}),
    ...(spec.version !== undefined ? { version: spec.version } : {}),
  });
  const run = spec.run;
  // The engine parses each payload with `type.payload` before calling run.
  const job: JobDefinition<S> = {
    type,
    run: async (payload, ctx) => run(payload as z.output<S>, ctx),
    [jobTag]: true,
  };
  return Object.freeze(job);
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return typeof value === "object" && value !== null && jobTag in value;
}

/** The jobs a module default-exports (`herald worker --jobs <module>`), checked: a non-empty array
 * of `defineJob(...)` values with distinct names. Throws a TypeError saying what is wrong. */
export function jobsOf(module: unknown, where: string): HandlerRegistry {
  const jobs = (module as { default?: unknown } | null)?.default;
  if (!Array.isArray(jobs)) {
    throw new TypeError(`${where} must default-export an array of defineJob(...) values, got ${describe(jobs)}`);
  }
  if (jobs.length === 0) throw new TypeError(`${where} exports no jobs (an empty array)`);
  jobs.forEach((job, i) => {
    if (!isJobDefinition(job)) {
      throw new TypeError(`${where}: entry ${i} is not a defineJob(...) value (got ${describe(job)})`);
    }
  });
  return registry(jobs as JobDefinition[]);
}

function describe(value: unknown): string {
  if (value === undefined) return "no default export";
  if (Array.isArray(value)) return "an array";
  return value === null ? "null" : typeof value;
}
