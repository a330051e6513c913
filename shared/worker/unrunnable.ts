// Messages that do not start an attempt here: one that can never run (not JSON, not a job message,
// a payload its schema refuses) fails its job and is dead-lettered; a job of a type this worker does
// not serve is another worker's and is passed on (every worker of a namespace consumes one queue).
import { announcedTransition } from "../events/announced-transition.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import { jobProblem, type ProblemKind } from "../jobs/problems.ts";
import { isTerminal, JobMessage } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";
import { sleep } from "../queue/backoff.ts";
import type { Delivery, JobQueue } from "../queue/job-queue.ts";
import type { JobStore } from "../store/job-store.ts";

/** How long a job of a type this worker does not serve waits before it is offered again. */
export const passOnDelayMs = 1_000;

export interface UnrunnableDeps {
  store: JobStore;
  events: JobEventPublisher;
  queue: JobQueue;
  log: Logger;
  metrics: WorkerMetrics;
}

type Parsed = { ok: true; message: JobMessage } | { ok: false; reason: string; jobId?: string };

export function parseMessage(body: Buffer): Parsed {
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

/** A job of a type this worker does not serve is another worker's: every worker of a namespace
 * consumes the one jobs queue. Publish it again after `passOnDelayMs` (confirmed before the ack, so
 * it is never lost) for a worker that serves it; drop it once its job has ended, dead-letter it if there is no such
 * job. A type
 * nobody serves keeps waiting, as JOB_TYPE_WITHOUT_WORKER=accept promises. */
export async function passOn(deps: UnrunnableDeps, d: Delivery, message: JobMessage, log: Logger): Promise<void> {
  try {
    const job = await deps.store.get(message.jobId);
    if (job === null) {
      log.warn("dead-lettering a message for a job that does not exist", { jobId: message.jobId });
      return d.deadLetter(); // kept for an operator, like every message that can never run
    }
    if (!isTerminal(job.status)) {
      log.debug("passing on a job of a type this worker does not serve", {
        jobId: message.jobId,
        type: message.type,
      });
      await deps.queue.publish(message, { delayMs: passOnDelayMs });
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
export async function failUnrunnable(
  deps: UnrunnableDeps,
  jobId: string,
  kind: ProblemKind,
  detail: string,
): Promise<void> {
  try {
    const failed = await announcedTransition(deps.store, deps.events, jobId, (cur) =>
      isTerminal(cur.status)
        ? null
        : {
            status: "failed",
            error: jobProblem(kind, detail, { attempts: cur.attempts }),
            finishedAt: new Date().toISOString(),
          },
    );
    if (failed) deps.metrics.ended(failed.status, failed.type);
  } catch (err) {
    deps.log.warn("could not mark an unrunnable job failed", { jobId, error: String(err) });
  }
}
