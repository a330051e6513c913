// One attempt at a job: runs its handler, writes its progress, and commits how it ended. Every write
// is fenced by the attempt's id (the record's `attemptId`): once another attempt owns the job, or the
// job ended, nothing this attempt writes lands — however late a stubborn handler reports. The final
// write is retried while Redis is away, so an outage at the wrong moment never costs the outcome.
import { trace } from "@opentelemetry/api";
import { announcedTransition } from "../events/announced-transition.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import type { RetryPolicy } from "../jobs/job-types.ts";
import { jobProblem } from "../jobs/problems.ts";
import { InvalidResourceError, normalizeResourceUri } from "../jobs/resource-uri.ts";
import {
  isTerminal,
  type JobMessage,
  type JobRecord,
  type Problem,
  Progress,
  type ResultRef,
} from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";
import { backoffDelay, sleep } from "../queue/backoff.ts";
import type { Delivery, JobQueue } from "../queue/job-queue.ts";
import { type Change, type JobStore, type LeaseStore, StoreUnavailableError } from "../store/job-store.ts";
import type { AttemptAbort } from "./attempt-abort.ts";
import { type HandlerContext, isResource, PermanentError, type RegisteredHandler } from "./handlers.ts";

// Why a handler's AbortSignal fired.
export class ShutdownAbort extends Error {}
export class CancelAbort extends Error {}
class TimeoutAbort extends Error {}

type Outcome =
  | { kind: "succeeded"; result: ResultRef; resultJson?: string }
  | { kind: "failed"; error: Problem; retryable: boolean }
  | { kind: "canceled" };

export interface AttemptDeps {
  store: JobStore & LeaseStore;
  queue: Pick<JobQueue, "publish">;
  events: JobEventPublisher;
  log: Logger;
  resultLimitBytes: number;
  /** Origins a handler's `resource(uri)` may point to besides this API's own paths. */
  resourceOrigins: readonly string[];
  /** How long the final write is retried while Redis is unreachable before the message goes back. */
  storeOutageMs: number;
  metrics?: WorkerMetrics;
}

export interface AttemptInput {
  delivery: Delivery;
  /** The `running` record this attempt committed when it began. */
  job: JobRecord;
  message: JobMessage;
  handler: RegisteredHandler;
  payload: unknown;
  abort: AttemptAbort;
  /** Fires when the worker must stop waiting for Redis (its shutdown grace ran out). */
  giveUp: AbortSignal;
  /** The submitting request's id (the message's `x-request-id`), handed on with a retry. */
  requestId?: string | undefined;
}

export async function runAttempt(deps: AttemptDeps, input: AttemptInput): Promise<void> {
  const { log } = deps;
  const { job, abort, handler } = input;
  const began = Date.now(); // for the attempt duration metric
  const attemptId = job.attemptId ?? "";
  const policy = handler.type.retry;
  const mine = (cur: JobRecord) => ownedBy(cur, attemptId);
  const timeout = setTimeout(
    () => abort.abort(new TimeoutAbort(`the attempt took longer than ${policy.timeoutMs} ms`)),
    policy.timeoutMs,
  );
  // Progress writes go one after another, so versions commit in the order they were reported.
  let writes: Promise<unknown> = Promise.resolve();
  let latest = job; // the last state this attempt committed: its next write need not read first
  const ctx: HandlerContext = {
    jobId: job.id,
    attempt: job.attempts,
    get signal() {
      return abort.signal;
    },
    progress: (update) => {
      const parsed = Progress.safeParse(update);
      if (!parsed.success) {
        log.warn("ignoring invalid progress", { jobId: job.id, error: parsed.error.message });
        return;
      }
      writes = writes
        .then(async () => {
          const committed = await commit(
            deps,
            job.id,
            (cur) => {
              if (!mine(cur)) return null; // fenced: the job is not this attempt's any more
              if (cur.cancelRequested) {
                abort.abort(new CancelAbort("canceled")); // a missed control message
                return null;
              }
              return { progress: parsed.data };
            },
            { known: latest },
          );
          if (committed) latest = committed;
        })
        .catch((err: unknown) => log.warn("progress write failed", { jobId: job.id, error: String(err) }));
    },
  };

  let outcome: Outcome;
  try {
    const value = await abort.race(handler.run(input.payload, ctx));
    if (abort.aborted) throw abort.reason;
    outcome = success(deps, value, job.attempts);
  } catch (thrown) {
    const reason: unknown = abort.aborted ? abort.reason : thrown;
    if (reason instanceof ShutdownAbort) {
      const seconds = (Date.now() - began) / 1000;
      deps.metrics?.attemptDuration.observe({ type: job.type, outcome: "handed_back" }, seconds);
      clearTimeout(timeout);
      await writes;
      return handBack(deps, input, latest);
    }
    outcome = reason instanceof CancelAbort ? { kind: "canceled" } : failure(reason, job.attempts);
  } finally {
    clearTimeout(timeout);
  }
  deps.metrics?.attemptDuration.observe({ type: job.type, outcome: outcome.kind }, (Date.now() - began) / 1000);
  await writes;

  const retry = outcome.kind === "failed" && outcome.retryable && job.attempts < policy.maxAttempts;
  // Decided once, so a retried write can recognise its own earlier landing.
  const finishedAt = new Date().toISOString();
  const retryAt = retry ? new Date(Date.now() + retryDelay(job, policy)).toISOString() : undefined;
  const ended = await untilStored(deps, input, () =>
    retry && outcome.kind === "failed" && retryAt
      ? ownWrite(deps, latest, { finishedAt, retryAt }, (cur) =>
          cur.cancelRequested
            ? { status: "canceled", finishedAt }
            : { status: "queued", error: outcome.error, retryAt },
        )
      : finish(deps, latest, outcome, finishedAt),
  );
  const d = input.delivery;
  if (ended === "gave-up") {
    log.warn("Redis stayed unreachable; handing the job's message back", { jobId: job.id });
    return d.requeue();
  }
  if (ended === null) {
    log.warn("the attempt lost the job to another attempt or an ending; its outcome is dropped", { jobId: job.id });
    return d.ack();
  }
  deps.metrics?.ended(ended.status, job.type);
  try {
    if (ended.status === "queued") {
      // Committed first, published second: a crash in between redelivers the original message.
      const delayMs = Math.max(0, Date.parse(ended.retryAt ?? "") - Date.now()) || 0;
      await deps.queue.publish(input.message, { delayMs, requestId: input.requestId });
      log.info("job will be retried", { jobId: job.id, attempt: job.attempts, delayMs });
    }
  } catch (err) {
    log.warn("could not queue the retry; the message goes back", { jobId: job.id, error: String(err) });
    await sleep(1_000);
    return d.requeue();
  }
  // A job that ended lost its lease with the final commit (commit-job.lua); a retry's queued one not.
  if (!isTerminal(ended.status)) {
    await deps.store
      .releaseLease(job.id, attemptId)
      .catch((err: unknown) => log.warn("lease release failed", { jobId: job.id, error: String(err) }));
  }
  // Every job that ends failed keeps its message in the dead-letter queue, where it can be replayed.
  if (ended.status === "failed") deps.metrics?.outcome("dead_lettered", job.type);
  if (ended.status === "failed") d.deadLetter();
  else d.ack();
}

/** The job is running under this attempt (its fencing token). */
const ownedBy = (cur: JobRecord, attemptId: string): boolean => cur.status === "running" && cur.attemptId === attemptId;

/** Shutdown stopped the handler: the job goes back to `queued` and this attempt does not count. */
async function handBack(deps: AttemptDeps, input: AttemptInput, latest: JobRecord): Promise<void> {
  const { job, delivery } = input;
  const attemptId = job.attemptId ?? "";
  try {
    const back = await commit(
      deps,
      job.id,
      (cur) => {
        if (!ownedBy(cur, attemptId)) return null;
        if (cur.cancelRequested) return { status: "canceled", finishedAt: new Date().toISOString() };
        return { status: "queued", attempts: Math.max(0, cur.attempts - 1), retryAt: undefined };
      },
      { known: latest },
    );
    await deps.store.releaseLease(job.id, attemptId);
    deps.log.warn("job aborted by shutdown; requeueing", { jobId: job.id, status: back?.status ?? "unchanged" });
    if (back?.status === "canceled") deps.metrics?.ended("canceled", job.type);
    if (back?.status === "canceled") return delivery.ack();
  } catch (err) {
    // Redis is away: the message still goes back, and this attempt will count as one.
    deps.log.warn("job aborted by shutdown; requeueing without handing it back", {
      jobId: job.id,
      error: String(err),
    });
  }
  delivery.requeue();
}

type Written = JobRecord | null;

/** Retries a final write while Redis is unreachable (bounded by `storeOutageMs` and `giveUp`). */
async function untilStored(
  deps: AttemptDeps,
  input: AttemptInput,
  write: () => Promise<Written>,
): Promise<Written | "gave-up"> {
  const deadline = Date.now() + deps.storeOutageMs;
  for (let tryNo = 0; ; tryNo++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || Date.now() > deadline || input.giveUp.aborted) {
        if (!(err instanceof StoreUnavailableError))
          deps.log.error("final write failed", { jobId: input.job.id, error: String(err) });
        return "gave-up";
      }
      if (tryNo % 10 === 0) {
        deps.log.warn("final write failed; retrying until Redis is back", { jobId: input.job.id, error: String(err) });
      }
      await sleep(backoffDelay(tryNo, 100, 5_000), input.giveUp).catch(() => {});
    }
  }
}

function retryDelay(job: JobRecord, policy: RetryPolicy): number {
  return backoffDelay(job.attempts - 1, policy.backoffBaseMs, policy.backoffMaxMs);
}

/** Commits the final state; a cancel request wins over whatever the handler did. */
async function finish(deps: AttemptDeps, job: JobRecord, outcome: Outcome, finishedAt: string): Promise<Written> {
  const ended = await ownWrite(
    deps,
    job,
    { finishedAt },
    (cur): Partial<JobRecord> => {
      if (cur.cancelRequested) return { status: "canceled", finishedAt };
      switch (outcome.kind) {
        case "succeeded":
          return {
            status: "succeeded",
            result: outcome.result,
            error: undefined,
            finishedAt,
            progress: { ...cur.progress, percent: 100, etaSeconds: 0 },
          };
        case "failed":
          return { status: "failed", error: outcome.error, finishedAt };
        case "canceled":
          return { status: "canceled", finishedAt };
      }
    },
    outcome.kind === "succeeded" && outcome.resultJson !== undefined ? outcome.resultJson : undefined,
  );
  deps.log.info("job finished", { jobId: job.id, status: ended?.status ?? "fenced" });
  return ended;
}

/**
 * A fenced write of this attempt's outcome. If an earlier try of the same write landed but its reply
 * was lost (Redis went away), the record already holds it (same attempt, same stamps): that counts.
 */
async function ownWrite(
  deps: AttemptDeps,
  job: JobRecord,
  stamps: { finishedAt: string; retryAt?: string },
  change: (cur: JobRecord) => Partial<JobRecord>,
  result?: string,
): Promise<Written> {
  let landed: JobRecord | null = null;
  const committed = await commit(
    deps,
    job.id,
    (cur) => {
      if (cur.attemptId !== job.attemptId) return null;
      if (cur.status !== "running") {
        const same = cur.finishedAt === stamps.finishedAt || (stamps.retryAt && cur.retryAt === stamps.retryAt);
        if (same) landed = cur;
        return null;
      }
      return change(cur);
    },
    { known: job, ...(result !== undefined ? { result } : {}) },
  );
  return committed ?? landed;
}

/** Commits a change and announces it to the realtime channels. */
async function commit(
  deps: AttemptDeps,
  id: string,
  change: Change,
  opts: { result?: string; known?: JobRecord } = {},
): Promise<JobRecord | null> {
  const committed = await announcedTransition(deps.store, deps.events, id, change, opts);
  if (committed) {
    // Each event the attempt announces is an event of its span too.
    trace.getActiveSpan()?.addEvent("job changed", {
      "herald.job.status": committed.status,
      "herald.job.version": committed.version,
      ...(committed.progress?.percent !== undefined ? { "herald.job.percent": committed.progress.percent } : {}),
    });
  }
  return committed;
}

function success(deps: AttemptDeps, value: unknown, attempts: number): Outcome {
  if (isResource(value)) {
    try {
      return {
        kind: "succeeded",
        result: { kind: "resource", uri: normalizeResourceUri(value.uri, deps.resourceOrigins) },
      };
    } catch (err) {
      if (!(err instanceof InvalidResourceError)) throw err;
      return { kind: "failed", error: jobProblem("invalidResource", err.message, { attempts }), retryable: false };
    }
  }
  const json = JSON.stringify(value ?? null);
  const size = Buffer.byteLength(json);
  if (size > deps.resultLimitBytes) {
    const detail = `result is ${size} bytes; the limit is ${deps.resultLimitBytes}`;
    return { kind: "failed", error: jobProblem("resultTooLarge", detail, { attempts }), retryable: false };
  }
  return { kind: "succeeded", result: { kind: "stored" }, resultJson: json };
}

function failure(reason: unknown, attempts: number): Outcome {
  const detail = reason instanceof Error ? reason.message : String(reason);
  if (reason instanceof TimeoutAbort) {
    return { kind: "failed", error: jobProblem("jobTimeout", detail, { attempts }), retryable: true };
  }
  return {
    kind: "failed",
    error: jobProblem("jobFailed", detail, { attempts }),
    retryable: !(reason instanceof PermanentError),
  };
}
