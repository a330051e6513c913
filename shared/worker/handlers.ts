// What a job handler is, and the set of handlers a worker runs (and announces: shared/registry/).
import type { z } from "zod";
import type { JobType } from "../jobs/job-types.ts";
import type { Progress } from "../jobs/schemas.ts";

export interface HandlerContext {
  readonly jobId: string;
  /** 1 on the first try; grows when a message is redelivered. */
  readonly attempt: number;
  /** Fires when the job must stop (shutdown, cancellation, timeout). Pass it to anything that waits. */
  readonly signal: AbortSignal;
  /** Records progress; writes are ordered and never block the handler. */
  progress(update: Progress): void;
}

const resourceTag: unique symbol = Symbol("herald.resource");
/** A handler that updated some resource returns `resource(uri)`: the status monitor will 303 there. */
export interface ResourceResult {
  readonly [resourceTag]: true;
  readonly uri: string;
}
export function resource(uri: string): ResourceResult {
  return { [resourceTag]: true, uri };
}
export function isResource(value: unknown): value is ResourceResult {
  return typeof value === "object" && value !== null && resourceTag in value;
}

/** Throw this from a handler for a failure that another try cannot fix (bad input, say):
 * the job fails at once instead of being retried. */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
}

export type JobHandler<S extends z.ZodType> = (payload: z.output<S>, ctx: HandlerContext) => Promise<unknown>;

export interface RegisteredHandler {
  readonly type: JobType;
  readonly run: JobHandler<z.ZodType>;
}

export type HandlerRegistry = ReadonlyMap<string, RegisteredHandler>;

export function handle<S extends z.ZodType>(type: JobType<S>, run: JobHandler<S>): RegisteredHandler {
  return { type, run: run as JobHandler<z.ZodType> };
}

export function registry(handlers: readonly RegisteredHandler[]): HandlerRegistry {
  const map = new Map<string, RegisteredHandler>();
  for (const h of handlers) {
    if (map.has(h.type.name)) throw new TypeError(`two handlers for job type ${h.type.name}`);
    map.set(h.type.name, h);
  }
  return map;
}
