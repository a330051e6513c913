// The job type registry: what workers announce (name, version, payload JSON Schema, retry policy)
// and what the API validates submissions against. The stored form is a contract with workers in
// any language (README.md#job-types); redis-job-type-registry.ts is the only code that knows
// where it lives.
import { z } from "zod";

export const RetryPolicySchema = z.object({
  maxAttempts: z.int().min(1),
  backoffBaseMs: z.number().min(0),
  backoffMaxMs: z.number().min(0),
  timeoutMs: z.number().positive(),
});

/** One job type as a worker announces it. `version` is a string (a number is read as one). */
export const JobTypeDefinition = z.object({
  name: z.string().min(1).max(100),
  version: z.union([z.string().min(1).max(100), z.number().transform(String)]),
  description: z.string().max(10_000).default(""),
  /** JSON Schema (draft 2020-12) of the payload, as the submitter sends it. */
  payload: z.record(z.string(), z.unknown()),
  retry: RetryPolicySchema,
});
export type JobTypeDefinition = z.output<typeof JobTypeDefinition>;

/** A definition as stored: with the time (ms since the epoch) of the announcement that wrote it. */
export const StoredJobType = JobTypeDefinition.extend({ announcedAt: z.number() });
export type StoredJobType = z.output<typeof StoredJobType>;

export interface RegisteredJobType {
  readonly definition: StoredJobType;
  /** Workers whose announcement has not expired. */
  readonly liveWorkers: number;
}

/** What the API reads. */
export interface JobTypeRegistry {
  /** The type (possibly cached for a moment), or null when no worker ever announced it. */
  get(name: string): Promise<RegisteredJobType | null>;
  /** Every announced type, by name, read now. */
  list(): Promise<RegisteredJobType[]>;
  /** Stops listening for changes. */
  close(): Promise<void>;
}

/** What a worker writes. */
export interface JobTypeAnnouncer {
  /** Writes the definitions only, no worker entry: the types are known (and validated), but no
   * live worker serves them until one announces them. For tools and tests that run no worker. */
  define(definitions: readonly JobTypeDefinition[]): Promise<void>;
  /** Writes the definitions (the last announcement of a name wins) and this worker's entry under
   * each, valid for `ttlMs`; tells APIs of the names whose definition changed. */
  announce(definitions: readonly JobTypeDefinition[], workerId: string, ttlMs: number): Promise<void>;
  /** Extends this worker's entries by `ttlMs`. A definition that has gone missing (Redis lost it)
   * is written again; one that another worker replaced since is left as it is. */
  refresh(definitions: readonly JobTypeDefinition[], workerId: string, ttlMs: number): Promise<void>;
  /** Removes this worker's entries (graceful stop). The definitions stay. */
  withdraw(names: readonly string[], workerId: string): Promise<void>;
}

/** JSON with object keys sorted, so equal definitions compare equal as strings. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** Whether two definitions say the same (the announcement time aside). */
export function sameDefinition(a: JobTypeDefinition, b: JobTypeDefinition): boolean {
  const strip = ({ name, version, description, payload, retry }: JobTypeDefinition) =>
    stableJson({ name, version, description, payload, retry });
  return strip(a) === strip(b);
}
