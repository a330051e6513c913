// Taking a job for a new attempt: a fresh fencing token (`attemptId`) and a lease, committed as
// `running` (start-attempt.lua for a job never started, else a compare-and-set), or the reason the
// message does not start an attempt now.
import { randomUUID } from "node:crypto";
import { announcedTransition } from "../events/announced-transition.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import type { RetryPolicy } from "../jobs/job-types.ts";
import { toView } from "../jobs/job-view.ts";
import { jobProblem } from "../jobs/problems.ts";
import { isTerminal, type JobRecord } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import { secondsSince, type WorkerMetrics } from "../observability/metrics.ts";
import type { JobStore, LeaseStore } from "../store/job-store.ts";
import { troubleCapMs, troubleGraceMs } from "../store/redis-trouble.ts";

/** What taking an attempt needs from the worker. */
export interface AttemptDeps {
  store: JobStore & LeaseStore;
  events: JobEventPublisher;
  log: Logger;
  metrics: WorkerMetrics;
  leaseMs: number;
  /** When this process last saw Redis fail or come back (RedisTrouble.lastAt); absent: never. */
  redisTroubleAt?: () => number;
}

/** Why a message does not start an attempt now. */
export type Begin =
  | { kind: "run"; job: JobRecord }
  /** Another attempt holds a live lease; look again when it is due. */
  | { kind: "leased"; until: number }
  /** A second copy of a message whose job another attempt runs (that attempt holds the original). */
  | { kind: "duplicate" }
  | { kind: "ended"; status: JobRecord["status"] | null };

/** Takes the job for a new attempt (with a fresh fencing token), or says why not. */
export async function beginAttempt(
  deps: AttemptDeps,
  jobId: string,
  policy: RetryPolicy,
  redelivered: boolean,
): Promise<Begin> {
  const { store, log, leaseMs, metrics } = deps;
  const now = new Date().toISOString();
  const attemptId = randomUUID();
  // A job never started yet (the common case) is started by this one call: read, lease and commit.
  const start = await store.startAttempt(jobId, attemptId, now, leaseMs);
  if (start.started) {
    const job = start.record;
    // Its event goes out after the commit (not with it); on the same connection as the commits,
    // so it still reaches subscribers before the attempt's next change.
    deps.events.publish(toView(job));
    metrics.queueWait.observe({ type: job.type }, secondsSince(job.createdAt));
    return { kind: "run", job };
  }
  // Anything else was read (with its lease) and left as it is: decide here, commit below.
  const current = start.record;
  if (!current || isTerminal(current.status)) {
    log.info("skipping a message whose job is gone or finished", { jobId });
    return { kind: "ended", status: current?.status ?? null };
  }
  if (current.status === "running") {
    const expires = start.leaseExpiresAt;
    // A lease that lapsed while Redis was in trouble (a failover, a restart) is not a dead holder:
    // it could not renew either. Count it live for a grace after the trouble, up to a cap past its
    // expiry (redis-trouble.ts).
    const grace = Math.max(leaseMs, troubleGraceMs);
    const live =
      expires === null
        ? null
        : Math.max(expires, Math.min((deps.redisTroubleAt?.() ?? 0) + grace, expires + troubleCapMs));
    if (live !== null && live > Date.now()) {
      // A first delivery of a copy (not a redelivery) while the job runs: its attempt holds the
      // message it began with, so this copy adds nothing.
      return redelivered ? { kind: "leased", until: live } : { kind: "duplicate" };
    }
  }
  // The lease comes before `running`, so no one sees the job running without one. Both go in one
  // round trip: Redis runs a connection's commands in order, so the lease lands first.
  const leased = store.holdLease(jobId, leaseMs);
  leased.catch(() => {}); // awaited below, after the commit
  let raced = false;
  const begun = await announcedTransition(
    store,
    deps.events,
    jobId,
    (cur) => {
      if (isTerminal(cur.status)) return null;
      // Started by another delivery since we read it (a redelivery raced us): that run goes on.
      if (cur.status === "running" && cur.version !== current.version) {
        raced = true;
        return null;
      }
      if (cur.cancelRequested) return { status: "canceled", finishedAt: now };
      if (cur.attempts >= policy.maxAttempts) {
        const detail = `gave up after ${cur.attempts} attempts; the last did not finish (its worker died?)`;
        return {
          status: "failed",
          error: jobProblem("attemptsExhausted", detail, { attempts: cur.attempts }),
          finishedAt: now,
        };
      }
      return { status: "running", attempts: cur.attempts + 1, attemptId, startedAt: now, retryAt: undefined };
    },
    current, // just read: the compare-and-set catches anything newer
  );
  await leased; // if it failed, the message goes back (a `running` record without a lease is taken over)
  // The lease is the other run's now (one entry per job): keep it, and check back when it is due.
  if (raced) return redelivered ? { kind: "leased", until: Date.now() + leaseMs } : { kind: "duplicate" };
  // Waiting since it was created, or since its retry was due (a handed-back job: since created).
  if (begun?.status === "running")
    metrics.queueWait.observe({ type: begun.type }, secondsSince(current.retryAt ?? current.createdAt));
  else if (begun) metrics.ended(begun.status, begun.type); // canceled or out of attempts
  if (begun?.status === "running") return { kind: "run", job: begun };
  // Declined: it ended meanwhile, or is gone (a rare race; read it to settle the message right).
  const ended = begun ?? (await store.get(jobId));
  await store.releaseLease(jobId, ended?.attemptId ?? ""); // goes if the job ended or is gone
  return { kind: "ended", status: ended?.status ?? null };
}
