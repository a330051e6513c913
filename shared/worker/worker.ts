import type { JobControlSubscriber } from "../events/job-control.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import type { Logger } from "../observability/log.ts";
import { createWorkerMetrics, Registry, type WorkerMetrics } from "../observability/metrics.ts";
import { saneRequestId } from "../observability/request-context.ts";
import { endSpan, extractContext, SpanKind, tracer, withSpan } from "../observability/tracing.ts";
import { sleep } from "../queue/backoff.ts";
import type { Delivery, JobQueue } from "../queue/job-queue.ts";
import { Sweeper, sweepIntervalMs } from "../recovery/sweeper.ts";
import { type Announcement, announceJobTypes } from "../registry/announce.ts";
import type { JobTypeAnnouncer } from "../registry/job-type-registry.ts";
import type { JobStore, LeaseStore } from "../store/job-store.ts";
import { CancelAbort, runAttempt, ShutdownAbort } from "./attempt.ts";
import { AttemptAbort } from "./attempt-abort.ts";
import { type AttemptDeps, type Begin, beginAttempt } from "./begin-attempt.ts";
import type { HandlerRegistry } from "./handlers.ts";
import { failUnrunnable, parseMessage, passOn, type UnrunnableDeps } from "./unrunnable.ts";

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
  /** When this process last saw Redis fail or come back (RedisTrouble.lastAt): a lease that lapsed
   * since less than a lease period before then is not taken over yet. Absent: never. */
  redisTroubleAt?: () => number;
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

interface Running {
  attemptId: string;
  abort: AttemptAbort;
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
  /** What the attempt-taking and unrunnable-message steps share with this worker. */
  private readonly parts: AttemptDeps & UnrunnableDeps;

  constructor(private readonly deps: WorkerDeps) {
    this.metrics = deps.metrics ?? createWorkerMetrics(new Registry());
    this.leaseMs = deps.leaseMs ?? 30_000;
    const { store, events, queue, log } = deps;
    this.parts = { store, events, queue, log, metrics: this.metrics, leaseMs: this.leaseMs };
    if (deps.redisTroubleAt) this.parts.redisTroubleAt = deps.redisTroubleAt;
    this.stallTimeoutMs = deps.stallTimeoutMs ?? 5 * 60_000;
    const queueWatchdogMs = deps.queueWatchdogMs ?? 10 * 60_000;
    this.sweeper = new Sweeper({
      metrics: this.metrics,
      store: deps.store,
      queue: deps.queue,
      events: deps.events,
      log: deps.log,
      stallTimeoutMs: this.stallTimeoutMs,
      ...(deps.redisTroubleAt ? { redisTroubleAt: deps.redisTroubleAt } : {}),
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
      if (msg.jobId) await failUnrunnable(this.parts, msg.jobId, "invalidMessage", msg.reason);
      this.metrics.outcome("dead_lettered", "unknown");
      d.deadLetter();
      return;
    }
    const { jobId, type } = msg.message;
    const handler = handlers.get(type);
    if (!handler) return passOn(this.parts, d, msg.message, log);
    const payload = handler.type.payload.safeParse(msg.message.payload);
    if (!payload.success) {
      log.warn("dead-lettering a job with an invalid payload", { jobId, type });
      await failUnrunnable(this.parts, jobId, "invalidMessage", `payload invalid: ${payload.error.message}`);
      this.metrics.outcome("dead_lettered", type);
      d.deadLetter();
      return;
    }

    let begun: Begin;
    try {
      begun = await beginAttempt(this.parts, jobId, handler.type.retry, d.redelivered);
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
        const abort = new AttemptAbort();
        // The attempt's span continues the trace the message carries; the attempt runs inside it
        // and knows the request id, so a retry it publishes carries both on.
        const parent = extractContext(d.headers);
        const span = tracer().startSpan(
          "job attempt",
          {
            kind: SpanKind.CONSUMER,
            attributes: { "herald.job.id": jobId, "herald.job.type": type, "herald.job.attempt": begun.job.attempts },
          },
          parent,
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
              requestId,
            },
          );
        const done = withSpan(parent, span, attempt)
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
