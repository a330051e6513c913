// The job-state seam. Redis implements it (redis-job-store.ts); the store is the truth that every
// channel (polling, events, snapshots) reads from.
import type { JobRecord } from "../jobs/schemas.ts";

/** The store could not be reached; the caller may try again later (HTTP: 503). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** `guarded`: the commit's lease condition did not hold (the lease was renewed meanwhile). */
export type CommitOutcome = "committed" | "conflict" | "missing" | "guarded";

export interface CommitOptions {
  /** JSON text of the result, stored if `next` is `succeeded`. */
  result?: string;
  /** For a `queued` record: when it is due (ms since epoch), for the queue watchdog. */
  queuedDueMs?: number;
  /** Commit only if the job's lease expired before this (ms since epoch), or it has none. */
  leaseExpiredBefore?: number;
  /** The job's payload, stored anew (a job put back in the queue after it ended). */
  payload?: unknown;
  /** The job's event message (JobEventPublisher.encode), which the commit SPUBLISHes on the job's
   * events channel in the same step: one command instead of a commit and a publish. */
  event?: Buffer;
}

export interface JobStore {
  /** Records a new job (version 1, queued) with the payload its message carries. */
  create(record: JobRecord, opts?: { payload?: unknown }): Promise<void>;
  get(id: string): Promise<JobRecord | null>;
  /**
   * Compare-and-set: stores `next` only if the stored version is `next.version - 1`, so a late or
   * duplicate writer can never move a job backwards. A committed change is published with
   * `opts.event` in the same atomic step (else its committer publishes it after); a job that ends
   * loses its stored payload and its lease.
   */
  commit(next: JobRecord, opts?: CommitOptions): Promise<CommitOutcome>;
  getResult(id: string): Promise<string | null>;
  /** The payload of a job that has not ended (JSON value), or null. */
  getPayload(id: string): Promise<unknown>;
  /** Removes a job that was never accepted (publish failed). */
  delete(id: string): Promise<void>;
  /** Queued jobs due before `before` (ms since epoch), oldest first. */
  overdueQueued(before: number, limit: number): Promise<string[]>;
  /** Drops a queue-watchdog entry whose job is gone, or moves it to `dueMs`. */
  resetQueued(id: string, dueMs: number | null): Promise<void>;
}

/** Leases of running jobs: an attempt holds one per job and renews it; an expired lease means the
 * worker crashed, hangs or lost Redis. Ownership is the record's `attemptId` (the fencing token). */
export interface LeaseStore {
  /**
   * Takes a job that was never started for its first attempt in one step: the record goes
   * `running` under `attemptId`, its lease held until now + `ttlMs`. A job in any other state is
   * returned as it is (with its lease's expiry), nothing written: the caller decides and commits.
   */
  startAttempt(id: string, attemptId: string, now: string, ttlMs: number): Promise<StartAttempt>;
  holdLease(id: string, ttlMs: number): Promise<void>;
  /**
   * Extends the leases of jobs that are still `running` under the given attempt (re-adding one that
   * went missing). Returns the ids of those jobs whose record asks for cancellation.
   */
  renewLeases(attempts: readonly { id: string; attemptId: string }[], ttlMs: number): Promise<{ cancel: string[] }>;
  /** Removes the lease if it is still this attempt's (or the job has ended). */
  releaseLease(id: string, attemptId: string): Promise<void>;
  /** Removes a lease entry only if it expired before `before` (ms): a sweeper's clean-up that
   * never races a new attempt's fresh lease. */
  dropExpiredLease(id: string, before: number): Promise<void>;
  /** Expiry in ms since the epoch, or null when no lease is held. */
  leaseExpiresAt(id: string): Promise<number | null>;
  /** The record and its lease's expiry in one round trip; the lease is read after the record (a
   * worker holds the lease before it writes `running`, so a running record always finds its lease). */
  getWithLease(id: string): Promise<{ record: JobRecord; leaseExpiresAt: number | null } | null>;
  /** Jobs whose lease expired more than `graceMs` ago. */
  expiredLeases(graceMs: number, limit: number): Promise<string[]>;
}

/** What `startAttempt` did: started the job (`record` is the committed `running` one), or found it
 * in another state (`record` as stored, null if gone; nothing written). */
export type StartAttempt =
  | { started: true; record: JobRecord }
  | { started: false; record: JobRecord | null; leaseExpiresAt: number | null };

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
  opts: Omit<CommitOptions, "event"> & {
    maxTries?: number;
    known?: JobRecord;
    /** The event to publish with the commit of `next` (CommitOptions.event), if any. */
    event?: (next: JobRecord) => CommitOptions["event"] | null;
  } = {},
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
    const event = opts.event?.(next);
    const outcome = await store.commit(next, {
      ...(event ? { event } : {}),
      ...(opts.result !== undefined ? { result: opts.result } : {}),
      ...(opts.leaseExpiredBefore !== undefined ? { leaseExpiredBefore: opts.leaseExpiredBefore } : {}),
      ...(opts.payload !== undefined ? { payload: opts.payload } : {}),
      ...(next.status === "queued" ? { queuedDueMs: opts.queuedDueMs ?? dueOf(next) } : {}),
    });
    if (outcome === "committed") return next;
    if (outcome === "missing" || outcome === "guarded") return null;
    current = undefined; // lost a race: read the winner's state and try again
  }
  throw new Error(`job ${id}: gave up after ${maxTries} conflicting writes`);
}

/** When a queued job should reach a worker: its retry time, else now. */
function dueOf(r: JobRecord): number {
  return r.retryAt ? Date.parse(r.retryAt) : Date.now();
}
