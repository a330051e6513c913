// Consumes job messages and runs their handlers. A message is acked only after the job's next
// state is committed (final, or queued for a retry that RabbitMQ now holds), so a crash anywhere
// before that means redelivery, never a lost job. State writes are compare-and-set on `version`,
// so a late or duplicate delivery can never move a job backwards.
import { backoffDelay, sleep } from "../../shared/backoff.ts";
import type { JobControlSubscriber } from "../../shared/job-control.ts";
import type { JobEventPublisher } from "../../shared/job-events.ts";
import type { Delivery, JobQueue } from "../../shared/job-queue.ts";
import { type Change, type JobStore, type LeaseStore, transition } from "../../shared/job-store.ts";
import type { RetryPolicy } from "../../shared/job-types.ts";
import { toView } from "../../shared/job-view.ts";
import type { Logger } from "../../shared/log.ts";
import { jobProblem, type ProblemKind } from "../../shared/problems.ts";
import {
  isTerminal,
  JobMessage,
  type JobRecord,
  type Problem,
  Progress,
  type ResultRef,
} from "../../shared/schemas.ts";
import {
  type HandlerContext,
  type HandlerRegistry,
  isResource,
  PermanentError,
  type RegisteredHandler,
} from "./handlers.ts";

export interface WorkerDeps {
  queue: JobQueue;
  store: JobStore & LeaseStore;
  /** Told of every committed change, for the realtime channels. */
  events: JobEventPublisher;
  /** Cancel requests from the API; optional (without it cancellation is noticed on progress writes). */
  control?: JobControlSubscriber;
  handlers: HandlerRegistry;
  log: Logger;
  prefetch: number;
  resultLimitBytes: number;
  /** How long `stop()` lets running jobs finish before aborting them and handing them back. */
  shutdownGraceMs: number;
  /** A running job's lease; renewed every third of it. Default 30 s. */
  leaseMs?: number;
  /** A job whose lease expired this long ago is failed as `worker-lost`. Default 5 min. */
  stallTimeoutMs?: number;
}

// Why a handler's AbortSignal fired.
class ShutdownAbort extends Error {}
class CancelAbort extends Error {}
class TimeoutAbort extends Error {}

type Outcome =
  | { kind: "succeeded"; result: ResultRef; resultJson?: string }
  | { kind: "failed"; error: Problem; retryable: boolean }
  | { kind: "canceled" };

/** Another worker's lease on a running job, in ms since the epoch. */
interface Leased {
  leasedUntil: number;
}

interface Running {
  abort: AbortController;
  done: Promise<void>;
}

export class Worker {
  private readonly running = new Map<string, Running>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly leaseMs: number;
  private stopping: Promise<void> | null = null;

  constructor(private readonly deps: WorkerDeps) {
    this.leaseMs = deps.leaseMs ?? 30_000;
  }

  async start(): Promise<void> {
    await this.deps.control?.onCancel((jobId) => this.running.get(jobId)?.abort.abort(new CancelAbort("canceled")));
    this.timers.push(setInterval(() => this.renewLeases(), Math.max(100, this.leaseMs / 3)));
    this.timers.push(setInterval(() => this.sweepStalled(), Math.max(500, this.leaseMs)));
    await this.deps.queue.consume((d) => this.process(d), this.deps.prefetch);
  }

  /** Stops consuming, lets running jobs finish within the grace period, then aborts the rest
   * (their messages are requeued for another worker). Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.deps.queue.stopConsuming();
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      const graceful = await Promise.race([all.then(() => true), sleep(this.deps.shutdownGraceMs).then(() => false)]);
      if (!graceful) {
        for (const r of this.running.values()) r.abort.abort(new ShutdownAbort("worker shutting down"));
        await all;
      }
      for (const t of this.timers) clearInterval(t);
    })();
    return this.stopping;
  }

  private async process(d: Delivery): Promise<void> {
    const { log, handlers } = this.deps;
    const msg = parseMessage(d.body);
    if (!msg.ok) {
      log.warn("dead-lettering an invalid message", { reason: msg.reason });
      if (msg.jobId) await this.failUnrunnable(msg.jobId, "invalidMessage", msg.reason);
      d.deadLetter();
      return;
    }
    const { jobId, type } = msg.message;
    const handler = handlers.get(type);
    if (!handler) {
      log.warn("dead-lettering a job of unknown type", { jobId, type });
      await this.failUnrunnable(jobId, "unknownJobTypeAtWorker", `no handler for job type "${type}"`);
      d.deadLetter();
      return;
    }
    const payload = handler.type.payload.safeParse(msg.message.payload);
    if (!payload.success) {
      log.warn("dead-lettering a job with an invalid payload", { jobId, type });
      await this.failUnrunnable(jobId, "invalidMessage", `payload invalid: ${payload.error.message}`);
      d.deadLetter();
      return;
    }

    let started: JobRecord | Leased | null;
    try {
      started = await this.begin(jobId, handler.type.retry);
    } catch (err) {
      return this.retryLater(d, jobId, err);
    }
    if (started !== null && "leasedUntil" in started) {
      // Another worker holds the job, or held it and died: RabbitMQ redelivers a dead consumer's
      // messages at once, its lease lapses only later. Acking would lose the job in that case, so
      // hand the message back once the lease is due: by then the job has finished (ack), its worker
      // renewed the lease (wait again), or the lease lapsed (take the job over).
      log.warn("job is leased by another worker; requeueing its message when the lease is due", { jobId });
      await sleep(Math.min(this.leaseMs, Math.max(0, started.leasedUntil - Date.now())) + 100);
      d.requeue();
      return;
    }
    if (started?.status !== "running") {
      if (started?.status === "failed")
        d.deadLetter(); // out of attempts: keep the message for an operator
      else d.ack(); // finished, canceled or expired
      return;
    }

    const abort = new AbortController();
    const done = this.run(d, started, msg.message, handler, payload.data, abort).finally(() =>
      this.running.delete(jobId),
    );
    this.running.set(jobId, { abort, done });
    await done;
  }

  /** Takes the job for a new attempt, or says why not: null, the state it ended in instead, or
   * the live lease of the worker that runs it. */
  private async begin(jobId: string, policy: RetryPolicy): Promise<JobRecord | Leased | null> {
    const { store, log } = this.deps;
    const current = await store.get(jobId);
    if (!current || isTerminal(current.status)) {
      log.info("skipping a message whose job is gone or finished", { jobId });
      return null;
    }
    if (current.status === "running") {
      const expires = await store.leaseExpiresAt(jobId);
      if (expires !== null && expires > Date.now()) return { leasedUntil: expires };
    }
    await store.holdLease(jobId, this.leaseMs); // before `running`, so no one sees it running without a lease
    const now = new Date().toISOString();
    let raced = false;
    const begun = await this.commit(jobId, (cur) => {
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
      return { status: "running", attempts: cur.attempts + 1, startedAt: now, retryAt: undefined };
    });
    // The lease is the other run's now (one entry per job): keep it, and check back when it is due.
    if (raced) return { leasedUntil: Date.now() + this.leaseMs };
    if (begun?.status !== "running") await store.releaseLease(jobId);
    return begun;
  }

  private async run(
    d: Delivery,
    job: JobRecord,
    message: JobMessage,
    handler: RegisteredHandler,
    payload: unknown,
    abort: AbortController,
  ): Promise<void> {
    const { log } = this.deps;
    const policy = handler.type.retry;
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
      signal: abort.signal,
      progress: (update) => {
        const parsed = Progress.safeParse(update);
        if (!parsed.success) {
          log.warn("ignoring invalid progress", { jobId: job.id, error: parsed.error.message });
          return;
        }
        writes = writes
          .then(async () => {
            const committed = await this.commit(
              job.id,
              (cur) => {
                if (cur.cancelRequested) abort.abort(new CancelAbort("canceled")); // a missed control message
                return cur.status === "running" && !cur.cancelRequested ? { progress: parsed.data } : null;
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
      const value = await Promise.race([handler.run(payload, ctx), rejectOnAbort(abort.signal)]);
      if (abort.signal.aborted) throw abort.signal.reason;
      outcome = this.success(value, job.attempts);
    } catch (thrown) {
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : thrown;
      if (reason instanceof ShutdownAbort) {
        clearTimeout(timeout);
        await writes;
        log.warn("job aborted by shutdown; requeueing", { jobId: job.id });
        await this.deps.store.releaseLease(job.id).catch(() => {});
        d.requeue();
        return;
      }
      outcome = reason instanceof CancelAbort ? { kind: "canceled" } : this.failure(reason, job.attempts);
    } finally {
      clearTimeout(timeout);
    }
    await writes;

    try {
      const retry = outcome.kind === "failed" && outcome.retryable && job.attempts < policy.maxAttempts;
      if (retry && outcome.kind === "failed") await this.scheduleRetry(latest, message, outcome.error, policy);
      else {
        const ended = await this.finish(latest, outcome);
        // Retries used up: the message goes to the dead-letter queue, where it can be replayed.
        if (ended?.status === "failed" && outcome.kind === "failed" && outcome.retryable) {
          await this.deps.store.releaseLease(job.id);
          d.deadLetter();
          return;
        }
      }
      await this.deps.store.releaseLease(job.id);
      d.ack();
    } catch (err) {
      await this.retryLater(d, job.id, err);
    }
  }

  private async scheduleRetry(job: JobRecord, message: JobMessage, error: Problem, policy: RetryPolicy): Promise<void> {
    const delayMs = backoffDelay(job.attempts - 1, policy.backoffBaseMs, policy.backoffMaxMs);
    const retryAt = new Date(Date.now() + delayMs).toISOString();
    const queued = await this.commit(
      job.id,
      (cur) => {
        if (cur.status !== "running") return null;
        if (cur.cancelRequested) return { status: "canceled", finishedAt: new Date().toISOString() };
        return { status: "queued", error, retryAt };
      },
      { known: job },
    );
    if (queued?.status !== "queued") return;
    // Committed first, published second: a crash in between redelivers the original message.
    await this.deps.queue.publish(message, { delayMs });
    this.deps.log.info("job will be retried", { jobId: job.id, attempt: job.attempts, delayMs });
  }

  /** Commits the final state; `known` is the last state this attempt committed. */
  private finish(known: JobRecord, outcome: Outcome): Promise<JobRecord | null> {
    const id = known.id;
    const finishedAt = new Date().toISOString();
    const committed = this.commit(
      id,
      (cur): Partial<JobRecord> | null => {
        if (isTerminal(cur.status)) return null;
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
      {
        known,
        ...(outcome.kind === "succeeded" && outcome.resultJson !== undefined ? { result: outcome.resultJson } : {}),
      },
    );
    return committed.then((r) => {
      this.deps.log.info("job finished", { jobId: id, status: r?.status ?? "unchanged" });
      return r;
    });
  }

  private success(value: unknown, attempts: number): Outcome {
    if (isResource(value)) return { kind: "succeeded", result: { kind: "resource", uri: value.uri } };
    const json = JSON.stringify(value ?? null);
    const size = Buffer.byteLength(json);
    if (size > this.deps.resultLimitBytes) {
      const detail = `result is ${size} bytes; the limit is ${this.deps.resultLimitBytes}`;
      return { kind: "failed", error: jobProblem("resultTooLarge", detail, { attempts }), retryable: false };
    }
    return { kind: "succeeded", result: { kind: "stored" }, resultJson: json };
  }

  private failure(reason: unknown, attempts: number): Outcome {
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

  /** Commits a change and announces it to the realtime channels. */
  private async commit(
    id: string,
    change: Change,
    opts: { result?: string; known?: JobRecord } = {},
  ): Promise<JobRecord | null> {
    const committed = await transition(this.deps.store, id, change, opts);
    if (committed) this.deps.events.publish(toView(committed));
    return committed;
  }

  /** A message that can never run: end its job `failed` so nobody waits forever. */
  private async failUnrunnable(jobId: string, kind: ProblemKind, detail: string): Promise<void> {
    try {
      await this.commit(jobId, (cur) =>
        isTerminal(cur.status)
          ? null
          : {
              status: "failed",
              error: jobProblem(kind, detail, { attempts: cur.attempts }),
              finishedAt: new Date().toISOString(),
            },
      );
    } catch (err) {
      this.deps.log.warn("could not mark an unrunnable job failed", { jobId, error: String(err) });
    }
  }

  /** The state store is unreachable: give the message back after a pause instead of spinning. */
  private async retryLater(d: Delivery, jobId: string, err: unknown): Promise<void> {
    this.deps.log.warn("state store write failed; requeueing the job", { jobId, error: String(err) });
    await sleep(1_000);
    d.requeue();
  }

  private renewLeases(): void {
    const ids = [...this.running.keys()];
    this.deps.store
      .renewLeases(ids, this.leaseMs)
      .catch((err: unknown) => this.deps.log.warn("lease renewal failed", { jobs: ids.length, error: String(err) }));
  }

  /** Jobs whose worker vanished long ago (lease expired past the stall timeout) end `failed`. */
  private async sweepStalled(): Promise<void> {
    try {
      const stalled = await this.deps.store.expiredLeases(this.deps.stallTimeoutMs ?? 5 * 60_000, 100);
      for (const id of stalled) {
        if (this.running.has(id)) continue;
        const detail = "its worker stopped renewing the job's lease";
        await this.commit(id, (cur) =>
          cur.status === "running"
            ? {
                status: "failed",
                error: jobProblem("workerLost", detail, { attempts: cur.attempts }),
                finishedAt: new Date().toISOString(),
              }
            : null,
        );
        await this.deps.store.releaseLease(id);
        this.deps.log.warn("failed a stalled job", { jobId: id });
      }
    } catch (err) {
      this.deps.log.warn("stall sweep failed", { error: String(err) });
    }
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  p.catch(() => {}); // an abort after the race was decided is nobody's business
  return p;
}

type Parsed = { ok: true; message: JobMessage } | { ok: false; reason: string; jobId?: string };

function parseMessage(body: Buffer): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, reason: "message is not JSON" };
  }
  const parsed = JobMessage.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  const jobId = (raw as { jobId?: unknown } | null)?.jobId;
  return {
    ok: false,
    reason: `message does not match the job message schema: ${parsed.error.message}`,
    ...(typeof jobId === "string" && /^[0-9a-f-]{36}$/i.test(jobId) ? { jobId } : {}),
  };
}
