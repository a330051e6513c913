// Consumes job messages and runs their handlers. A message is acked only after the job's final
// state is committed, so a crash anywhere before that means redelivery, not a lost job.
import { sleep } from "../../shared/backoff.ts";
import type { JobEventPublisher } from "../../shared/job-events.ts";
import type { Delivery, JobQueue } from "../../shared/job-queue.ts";
import { type Change, type JobStore, transition } from "../../shared/job-store.ts";
import { toView } from "../../shared/job-view.ts";
import type { Logger } from "../../shared/log.ts";
import { jobProblem, type ProblemKind } from "../../shared/problems.ts";
import { isTerminal, JobMessage, type JobRecord, Progress, type ResultRef } from "../../shared/schemas.ts";
import { type HandlerContext, type HandlerRegistry, isResource } from "./handlers.ts";

export interface WorkerDeps {
  queue: JobQueue;
  store: JobStore;
  /** Told of every committed change, for the realtime channels. */
  events: JobEventPublisher;
  handlers: HandlerRegistry;
  log: Logger;
  prefetch: number;
  resultLimitBytes: number;
  /** How long `stop()` lets running jobs finish before aborting them and handing them back. */
  shutdownGraceMs: number;
}

export class Worker {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private stopping: Promise<void> | null = null;

  constructor(private readonly deps: WorkerDeps) {}

  async start(): Promise<void> {
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
        for (const r of this.running.values()) r.abort.abort(new Error("worker shutting down"));
        await all;
      }
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

    let started: JobRecord | null;
    try {
      started = await this.commit(jobId, (cur) =>
        isTerminal(cur.status)
          ? null
          : { status: "running", attempts: cur.attempts + 1, startedAt: new Date().toISOString() },
      );
    } catch (err) {
      return this.retryLater(d, jobId, err);
    }
    if (!started) {
      // Expired, or finished already (a redelivered duplicate): nothing to do.
      log.info("skipping a message whose job is gone or finished", { jobId });
      d.ack();
      return;
    }

    const abort = new AbortController();
    const done = this.run(d, started, abort, handler.run, payload.data).finally(() => this.running.delete(jobId));
    this.running.set(jobId, { abort, done });
    await done;
  }

  private async run(
    d: Delivery,
    job: JobRecord,
    abort: AbortController,
    run: (payload: unknown, ctx: HandlerContext) => Promise<unknown>,
    payload: unknown,
  ): Promise<void> {
    const { log } = this.deps;
    // Progress writes go one after another, so versions commit in the order they were reported.
    let writes: Promise<unknown> = Promise.resolve();
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
          .then(() => this.commit(job.id, (cur) => (cur.status === "running" ? { progress: parsed.data } : null)))
          .catch((err: unknown) => log.warn("progress write failed", { jobId: job.id, error: String(err) }));
      },
    };

    let outcome: { result?: ResultRef; resultJson?: string; error?: ReturnType<typeof jobProblem> };
    try {
      const value = await run(payload, ctx);
      if (abort.signal.aborted) throw abort.signal.reason;
      outcome = this.resultOf(value, job.attempts);
    } catch (err) {
      if (abort.signal.aborted) {
        // Shutdown: hand the job back for another worker rather than failing it.
        await writes;
        log.warn("job aborted by shutdown; requeueing", { jobId: job.id });
        d.requeue();
        return;
      }
      const detail = err instanceof Error ? err.message : String(err);
      outcome = { error: jobProblem("jobFailed", detail, { attempts: job.attempts }) };
    }
    await writes;

    const finishedAt = new Date().toISOString();
    try {
      const committed = await this.commit(
        job.id,
        (cur) => {
          if (isTerminal(cur.status)) return null;
          if (outcome.error) return { status: "failed", error: outcome.error, finishedAt };
          return {
            status: "succeeded",
            result: outcome.result,
            finishedAt,
            progress: { ...cur.progress, percent: 100, etaSeconds: 0 },
          };
        },
        outcome.resultJson === undefined ? {} : { result: outcome.resultJson },
      );
      log.info("job finished", { jobId: job.id, status: committed?.status ?? "unchanged" });
      d.ack();
    } catch (err) {
      await this.retryLater(d, job.id, err);
    }
  }

  private resultOf(
    value: unknown,
    attempts: number,
  ): { result?: ResultRef; resultJson?: string; error?: ReturnType<typeof jobProblem> } {
    if (isResource(value)) return { result: { kind: "resource", uri: value.uri } };
    const json = JSON.stringify(value ?? null);
    if (Buffer.byteLength(json) > this.deps.resultLimitBytes) {
      return {
        error: jobProblem(
          "resultTooLarge",
          `result is ${Buffer.byteLength(json)} bytes; the limit is ${this.deps.resultLimitBytes}`,
          { attempts },
        ),
      };
    }
    return { result: { kind: "stored" }, resultJson: json };
  }

  /** Commits a change and announces it to the realtime channels. */
  private async commit(id: string, change: Change, opts: { result?: string } = {}): Promise<JobRecord | null> {
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
