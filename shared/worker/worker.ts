// Consumes job messages and starts attempts (attempt.ts runs them). A message is acked only after
// the job's next state is committed (final, or queued for a retry that RabbitMQ now holds), so a
// crash anywhere before that means redelivery, never a lost job. An attempt owns its job through a
// fencing token (`attemptId`) and a lease it renews; the sweeper (shared/recovery/sweeper.ts) ends jobs
// whose lease lapsed and republishes queued jobs whose message went missing.
import { randomUUID } from "node:crypto";
import { context, trace } from "@opentelemetry/api";
import { announcedTransition } from "../events/announced-transition.ts";
import type { JobControlSubscriber } from "../events/job-control.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import type { RetryPolicy } from "../jobs/job-types.ts";
import { jobProblem, type ProblemKind } from "../jobs/problems.ts";
import { isTerminal, JobMessage, type JobRecord } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import { createWorkerMetrics, Registry, secondsSince, type WorkerMetrics } from "../observability/metrics.ts";
import { saneRequestId, withRequestId } from "../observability/request-context.ts";
import { endSpan, extractContext, SpanKind, tracer } from "../observability/tracing.ts";
import { sleep } from "../queue/backoff.ts";
import type { Delivery, JobQueue } from "../queue/job-queue.ts";
import { Sweeper, sweepIntervalMs } from "../recovery/sweeper.ts";
import { type Announcement, announceJobTypes } from "../registry/announce.ts";
import type { JobTypeAnnouncer } from "../registry/job-type-registry.ts";
import type { Change, JobStore, LeaseStore } from "../store/job-store.ts";
import { CancelAbort, runAttempt, ShutdownAbort } from "./attempt.ts";
import type { HandlerRegistry } from "./handlers.ts";

/** How long a job of a type this worker does not serve waits before it is offered again. */
export const passOnDelayMs = 1_000;

export interface WorkerDeps {
  queue: JobQueue;
  store: JobStore & LeaseStore;
  /** Told of every committed change, for the realtime channels. */
  events: JobEventPublisher;
  /** Cancel requests from the API; optional (lease renewals also notice `cancelRequested`). */
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
  /** A queued job overdue this long has its message published again. Default 10 min. */
  queueWatchdogMs?: number;
  /** Origins a handler's `resource(uri)` may name (relative paths are always allowed). */
  resourceOrigins?: readonly string[];
  /** Where this worker counts; a fresh registry of its own if not given. */
  metrics?: WorkerMetrics;
  /** The job type registry: the worker announces its handlers' types there when it starts, keeps
   * the announcement fresh while it runs and withdraws it when it stops. Without it, nothing is
   * announced (the API then refuses the types as unknown unless something else announces them). */
  jobTypes?: {
    registry: JobTypeAnnouncer;
    /** This worker's id in the registry; unique per process. */
    workerId: string;
    /** JOB_TYPE_TTL_MS: an announcement not refreshed for this long expires. */
    ttlMs: number;
  };
}

/** Why a message does not start an attempt now. */
type Begin =
  | { kind: "run"; job: JobRecord }
  /** Another attempt holds a live lease; look again when it is due. */
  | { kind: "leased"; until: number }
  /** A second copy of a message whose job another attempt runs (that attempt holds the original). */
  | { kind: "duplicate" }
  | { kind: "ended"; status: JobRecord["status"] | null };

interface Running {
  attemptId: string;
  abort: AbortController;
  done: Promise<void>;
}

export class Worker {
  private readonly running = new Map<string, Running>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly leaseMs: number;
  private readonly stallTimeoutMs: number;
  private readonly giveUp = new AbortController();
  private readonly sweeper: Sweeper;
  private stopping: Promise<void> | null = null;
  private announcement: Announcement | null = null;
  readonly metrics: WorkerMetrics;

  constructor(private readonly deps: WorkerDeps) {
    this.metrics = deps.metrics ?? createWorkerMetrics(new Registry());
    this.leaseMs = deps.leaseMs ?? 30_000;
    this.stallTimeoutMs = deps.stallTimeoutMs ?? 5 * 60_000;
    const queueWatchdogMs = deps.queueWatchdogMs ?? 10 * 60_000;
    this.sweeper = new Sweeper({
      metrics: this.metrics,
      store: deps.store,
      queue: deps.queue,
      events: deps.events,
      log: deps.log,
      stallTimeoutMs: this.stallTimeoutMs,
      queueWatchdogMs,
      intervalMs: sweepIntervalMs(this.leaseMs, queueWatchdogMs),
      isLocal: (id) => this.running.has(id),
    });
  }

  async start(): Promise<void> {
    await this.deps.control?.onCancel((jobId) => this.cancelLocal(jobId));
    // Cancels published while the subscription was down are gone: the records still say so.
    this.deps.control?.onResubscribed(() => this.renewLeases());
    this.timers.push(setInterval(() => this.renewLeases(), Math.max(100, this.leaseMs / 3)));
    this.sweeper.start();
    const announce = this.deps.jobTypes;
    if (announce) {
      this.announcement = await announceJobTypes({
        ...announce,
        types: [...this.deps.handlers.values()].map((h) => h.type),
        log: this.deps.log,
      });
    }
    try {
      await this.deps.queue.consume((d) => this.process(d), this.deps.prefetch);
    } catch (err) {
      await this.announcement?.withdraw();
      throw err;
    }
  }

  /** Stops consuming, lets running jobs finish within the grace period, then aborts the rest
   * (they are handed back: queued again, the attempt not counted). Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.deps.queue.stopConsuming();
      await this.announcement?.withdraw(); // takes no new jobs: no longer counts as serving its types
      this.sweeper.stop();
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      const graceful = await Promise.race([all.then(() => true), sleep(this.deps.shutdownGraceMs).then(() => false)]);
      if (!graceful) {
        for (const r of this.running.values()) r.abort.abort(new ShutdownAbort("worker shutting down"));
        this.giveUp.abort(); // attempts still waiting for Redis hand their messages back
        await all;
      }
      for (const t of this.timers) clearInterval(t);
    })();
    return this.stopping;
  }

  private cancelLocal(jobId: string): void {
    this.running.get(jobId)?.abort.abort(new CancelAbort("canceled"));
  }

  private async process(d: Delivery): Promise<void> {
    const { handlers } = this.deps;
    // The request that submitted the job: its id marks this message's log lines.
    const requestId = saneRequestId(d.headers?.["x-request-id"]);
    const log = requestId ? this.deps.log.child({ requestId }) : this.deps.log;
    const msg = parseMessage(d.body);
    if (!msg.ok) {
      log.warn("dead-lettering an invalid message", { reason: msg.reason });
      if (msg.jobId) await this.failUnrunnable(msg.jobId, "invalidMessage", msg.reason);
      this.metrics.outcome("dead_lettered", "unknown");
      d.deadLetter();
      return;
    }
    const { jobId, type } = msg.message;
    const handler = handlers.get(type);
    if (!handler) return this.passOn(d, msg.message, log);
    const payload = handler.type.payload.safeParse(msg.message.payload);
    if (!payload.success) {
      log.warn("dead-lettering a job with an invalid payload", { jobId, type });
      await this.failUnrunnable(jobId, "invalidMessage", `payload invalid: ${payload.error.message}`);
      this.metrics.outcome("dead_lettered", type);
      d.deadLetter();
      return;
    }

    let begun: Begin;
    try {
      begun = await this.begin(jobId, handler.type.retry, d.redelivered);
    } catch (err) {
      log.warn("state store unavailable; requeueing the job", { jobId, error: String(err) });
      await sleep(1_000);
      return d.requeue();
    }
    switch (begun.kind) {
      case "leased":
        // Another worker holds the job, or held it and died: RabbitMQ redelivers a dead consumer's
        // messages at once, its lease lapses only later. Acking would lose the job in that case, so
        // hand the message back once the lease is due: by then the job has finished (ack), its worker
        // renewed the lease (wait again), or the lease lapsed (take the job over).
        log.warn("job is leased by another worker; requeueing its message when the lease is due", { jobId });
        await sleep(Math.min(this.leaseMs, Math.max(0, begun.until - Date.now())) + 100);
        return d.requeue();
      case "duplicate":
        log.info("dropping a second copy of a running job's message", { jobId });
        return d.ack();
      case "ended":
        // A failed job's message is kept in the dead-letter queue, where it can be replayed.
        if (begun.status === "failed") this.metrics.outcome("dead_lettered", type);
        return begun.status === "failed" ? d.deadLetter() : d.ack();
      case "run": {
        const attemptId = begun.job.attemptId ?? "";
        const abort = new AbortController();
        // The attempt's span continues the trace the message carries; the attempt runs inside it
        // and under the request id, so a retry it publishes carries both on.
        const span = tracer().startSpan(
          "job attempt",
          {
            kind: SpanKind.CONSUMER,
            attributes: { "herald.job.id": jobId, "herald.job.type": type, "herald.job.attempt": begun.job.attempts },
          },
          extractContext(d.headers),
        );
        const attempt = () =>
          runAttempt(
            {
              store: this.deps.store,
              queue: this.deps.queue,
              events: this.deps.events,
              log,
              resultLimitBytes: this.deps.resultLimitBytes,
              resourceOrigins: this.deps.resourceOrigins ?? [],
              storeOutageMs: this.stallTimeoutMs,
              metrics: this.metrics,
            },
            {
              delivery: d,
              job: begun.job,
              message: msg.message,
              handler,
              payload: payload.data,
              abort,
              giveUp: this.giveUp.signal,
            },
          );
        const done = context
          .with(trace.setSpan(context.active(), span), () => withRequestId(requestId, attempt))
          .then(
            () => endSpan(span),
            (err: unknown) => {
              endSpan(span, err);
              throw err;
            },
          )
          .finally(() => {
            if (this.running.get(jobId)?.attemptId === attemptId) this.running.delete(jobId);
          });
        this.running.set(jobId, { attemptId, abort, done });
        await done;
      }
    }
  }

  /** Takes the job for a new attempt (with a fresh fencing token), or says why not. */
  private async begin(jobId: string, policy: RetryPolicy, redelivered: boolean): Promise<Begin> {
    const { store, log } = this.deps;
    const current = await store.get(jobId);
    if (!current || isTerminal(current.status)) {
      log.info("skipping a message whose job is gone or finished", { jobId });
      return { kind: "ended", status: current?.status ?? null };
    }
    if (current.status === "running") {
      const expires = await store.leaseExpiresAt(jobId);
      if (expires !== null && expires > Date.now()) {
        // A first delivery of a copy (not a redelivery) while the job runs: its attempt holds the
        // message it began with, so this copy adds nothing.
        return redelivered ? { kind: "leased", until: expires } : { kind: "duplicate" };
      }
    }
    // The lease comes before `running`, so no one sees the job running without one. Both go in one
    // round trip: Redis runs a connection's commands in order, so the lease lands first.
    const leased = store.holdLease(jobId, this.leaseMs);
    leased.catch(() => {}); // awaited below, after the commit
    const now = new Date().toISOString();
    const attemptId = randomUUID();
    let raced = false;
    const begun = await this.commit(
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
    if (raced) return redelivered ? { kind: "leased", until: Date.now() + this.leaseMs } : { kind: "duplicate" };
    // Waiting since it was created, or since its retry was due (a handed-back job: since created).
    if (begun?.status === "running")
      this.metrics.queueWait.observe({ type: begun.type }, secondsSince(current.retryAt ?? current.createdAt));
    else if (begun) this.metrics.ended(begun.status, begun.type); // canceled or out of attempts
    if (begun?.status === "running") return { kind: "run", job: begun };
    // Declined: it ended meanwhile, or is gone (a rare race; read it to settle the message right).
    const ended = begun ?? (await store.get(jobId));
    await store.releaseLease(jobId, ended?.attemptId ?? ""); // goes if the job ended or is gone
    return { kind: "ended", status: ended?.status ?? null };
  }

  /** Commits a change and announces it to the realtime channels. */
  private commit(id: string, change: Change, known?: JobRecord): Promise<JobRecord | null> {
    return announcedTransition(this.deps.store, this.deps.events, id, change, known ? { known } : {});
  }

  /** A job of a type this worker does not serve is another worker's: every worker of a namespace
   * consumes the one jobs queue. Publish it again after `passOnDelayMs` (confirmed before the ack, so
   * it is never lost) for a worker that serves it; drop it once its job has ended, dead-letter it if there is no such
   * job. A type
   * nobody serves keeps waiting, as JOB_TYPE_WITHOUT_WORKER=accept promises. */
  private async passOn(d: Delivery, message: JobMessage, log: Logger): Promise<void> {
    try {
      const job = await this.deps.store.get(message.jobId);
      if (job === null) {
        log.warn("dead-lettering a message for a job that does not exist", { jobId: message.jobId });
        return d.deadLetter(); // kept for an operator, like every message that can never run
      }
      if (!isTerminal(job.status)) {
        log.debug("passing on a job of a type this worker does not serve", {
          jobId: message.jobId,
          type: message.type,
        });
        await this.deps.queue.publish(message, { delayMs: passOnDelayMs });
      }
      d.ack();
    } catch (err) {
      log.warn("could not pass on a job of a type this worker does not serve; requeueing it", {
        jobId: message.jobId,
        error: String(err),
      });
      await sleep(passOnDelayMs);
      d.requeue();
    }
  }

  /** A message that can never run: end its job `failed` so nobody waits forever. */
  private async failUnrunnable(jobId: string, kind: ProblemKind, detail: string): Promise<void> {
    try {
      const failed = await this.commit(jobId, (cur) =>
        isTerminal(cur.status)
          ? null
          : {
              status: "failed",
              error: jobProblem(kind, detail, { attempts: cur.attempts }),
              finishedAt: new Date().toISOString(),
            },
      );
      if (failed) this.metrics.ended(failed.status, failed.type);
    } catch (err) {
      this.deps.log.warn("could not mark an unrunnable job failed", { jobId, error: String(err) });
    }
  }

  /** Renews this worker's leases; a record that asks for cancellation aborts its run (a control
   * message may have been missed while the subscriber reconnected). */
  private renewLeases(): void {
    const attempts = [...this.running].map(([id, r]) => ({ id, attemptId: r.attemptId }));
    this.deps.store
      .renewLeases(attempts, this.leaseMs)
      .then(({ cancel }) => {
        for (const id of cancel) this.cancelLocal(id);
      })
      .catch((err: unknown) =>
        this.deps.log.warn("lease renewal failed", { jobs: attempts.length, error: String(err) }),
      );
  }
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
