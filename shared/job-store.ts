// The job-state seam. Redis implements it (redis-job-store.ts); the store is the truth that every
// channel (polling, events, snapshots) reads from.
import type { JobRecord } from "./schemas.ts";

/** The store could not be reached; the caller may try again later (HTTP: 503). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

export type CommitOutcome = "committed" | "conflict" | "missing";

export interface JobStore {
  /** Records a new job (version 1). */
  create(record: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | null>;
  /**
   * Compare-and-set: stores `next` only if the stored version is `next.version - 1`, so a late or
   * duplicate writer can never move a job backwards. `result` (JSON text) is stored alongside.
   * A committed change is published to the job's changes channel in the same atomic step.
   */
  commit(next: JobRecord, result?: string): Promise<CommitOutcome>;
  getResult(id: string): Promise<string | null>;
  /** Removes a job that was never accepted (publish failed). */
  delete(id: string): Promise<void>;
}

/** Leases of running jobs: a worker holds one per job and renews it; an expired lease means the
 * worker crashed or hangs. */
export interface LeaseStore {
  holdLease(id: string, ttlMs: number): Promise<void>;
  /** Extends the leases this worker still holds (never resurrects a released one). */
  renewLeases(ids: readonly string[], ttlMs: number): Promise<void>;
  releaseLease(id: string): Promise<void>;
  /** Expiry in ms since the epoch, or null when no lease is held. */
  leaseExpiresAt(id: string): Promise<number | null>;
  /** Jobs whose lease expired more than `graceMs` ago. */
  expiredLeases(graceMs: number, limit: number): Promise<string[]>;
}

export type Change = (current: JobRecord) => Partial<JobRecord> | null;

/**
 * Read-modify-write with retry on conflict. `change` sees the current record and returns the fields
 * to change, or null to leave the job as it is. Version and updatedAt are maintained here.
 * `known` (a state this writer committed itself) skips the first read; a conflict falls back to it.
 * Returns the committed record, or null if the job is missing or `change` declined.
 */
export async function transition(
  store: JobStore,
  id: string,
  change: Change,
  opts: { result?: string; maxTries?: number; known?: JobRecord } = {},
): Promise<JobRecord | null> {
  const maxTries = opts.maxTries ?? 20;
  // A writer that just committed the job knows its state: try that first and save a read.
  let current: JobRecord | null | undefined = opts.known;
  for (let i = 0; i < maxTries; i++) {
    current ??= await store.get(id);
    if (!current) return null;
    const fields = change(current);
    if (!fields) return null;
    const next: JobRecord = {
      ...current,
      ...fields,
      version: current.version + 1,
      updatedAt: new Date().toISOString(),
    };
    const outcome = await store.commit(next, opts.result);
    if (outcome === "committed") return next;
    if (outcome === "missing") return null;
    current = undefined; // lost a race: read the winner's state and try again
  }
  throw new Error(`job ${id}: gave up after ${maxTries} conflicting writes`);
}
