// The operator's view of the dead-letter queue: list what is there, and replay messages (all,
// or chosen job ids) back onto the jobs queue with their jobs reset to `queued`.
import type { Channel, GetMessage } from "amqplib";
import { announcedTransition } from "../events/announced-transition.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import { JobMessage } from "../jobs/schemas.ts";
import type { JobStore } from "../store/job-store.ts";
import type { Names } from "../store/names.ts";
import type { JobQueue } from "./job-queue.ts";

export interface DeadLetter {
  jobId: string | null;
  type: string | null;
  /** Why RabbitMQ dead-lettered it (from x-death): "rejected", "expired", ... */
  reason: string | null;
  body: string;
}

/** Reads every message without removing it (they go back when the channel closes). */
export async function listDeadLetters(ch: Channel, n: Names, max = 1000): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for (let i = 0; i < max; i++) {
    const msg = await ch.get(n.deadLetterQueue, { noAck: false });
    if (!msg) break;
    out.push(describe(msg));
  }
  return out;
}

export interface ReplayDeps {
  ch: Channel;
  names: Names;
  queue: Pick<JobQueue, "publish">;
  store: JobStore;
  events: JobEventPublisher;
}

export interface ReplayReport {
  /** Jobs reset to `queued` with a fresh set of attempts, their message back on the jobs queue. */
  replayed: string[];
  /** Dead letters left in the queue, and why. */
  kept: { jobId: string | null; reason: string }[];
  /** Further copies of a replayed job's message, dropped (a job is replayed once). */
  dropped: string[];
}

/**
 * Replays dead letters whose job id is in `only` (or all, when `only` is null). Only a `failed` job
 * is replayed, and once: further copies of its message are dropped. The job is reset first and its
 * message published second (a worker that met the message before the reset would skip a failed
 * job); if the publish fails, the reset is undone and the letter stays. Anything else stays too.
 */
export async function replayDeadLetters(
  deps: ReplayDeps,
  only: ReadonlySet<string> | null,
  max = 1000,
): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: [], kept: [], dropped: [] };
  const keep: GetMessage[] = [];
  const keepBecause = (msg: GetMessage, jobId: string | null, reason: string) => {
    keep.push(msg);
    report.kept.push({ jobId, reason });
  };
  const replayedNow = new Set<string>();
  try {
    // Only the letters there now: a replayed job that fails again at once is dead-lettered anew
    // while we read, and that new letter must not be taken for a copy of the old one.
    const present = (await deps.ch.checkQueue(deps.names.deadLetterQueue)).messageCount;
    for (let i = 0; i < Math.min(max, present); i++) {
      const msg = await deps.ch.get(deps.names.deadLetterQueue, { noAck: false });
      if (!msg) break;
      const parsed = JobMessage.safeParse(safeJson(msg.content.toString("utf8")));
      if (!parsed.success) {
        keepBecause(msg, null, "not a job message");
        continue;
      }
      const jobId = parsed.data.jobId;
      if (only && !only.has(jobId)) {
        keep.push(msg);
        continue;
      }
      if (replayedNow.has(jobId)) {
        deps.ch.ack(msg);
        report.dropped.push(jobId);
        continue;
      }
      const failed = await deps.store.get(jobId);
      if (failed?.status !== "failed") {
        keepBecause(msg, jobId, failed ? `the job is ${failed.status}, not failed` : "the job is gone");
        continue;
      }
      const reset = await announcedTransition(
        deps.store,
        deps.events,
        jobId,
        (cur) =>
          cur.version === failed.version
            ? {
                status: "queued",
                attempts: 0,
                error: undefined,
                finishedAt: undefined,
                retryAt: undefined,
                cancelRequested: undefined,
                progress: { percent: 0 },
              }
            : null,
        // The payload, so the queue watchdog can publish it if all below fails.
        { known: failed, payload: parsed.data.payload },
      );
      if (!reset) {
        keepBecause(msg, jobId, "the job changed while it was being replayed");
        continue;
      }
      try {
        await deps.queue.publish(parsed.data);
      } catch (err) {
        // Undo the reset (unless something moved the job on meanwhile), and keep the letter.
        await announcedTransition(
          deps.store,
          deps.events,
          jobId,
          (cur) => (cur.version === reset.version ? failed : null), // transition sets version and updatedAt
        ).catch(() => null);
        keepBecause(msg, jobId, `publishing failed: ${String(err)}`);
        continue;
      }
      deps.ch.ack(msg);
      replayedNow.add(jobId);
      report.replayed.push(jobId);
    }
  } finally {
    for (const msg of keep) deps.ch.nack(msg, false, true);
  }
  return report;
}

function describe(msg: GetMessage): DeadLetter {
  const body = msg.content.toString("utf8");
  const parsed = JobMessage.safeParse(safeJson(body));
  const death = (msg.properties.headers?.["x-death"] as { reason?: string }[] | undefined)?.[0];
  return {
    jobId: parsed.success ? parsed.data.jobId : null,
    type: parsed.success ? parsed.data.type : null,
    reason: death?.reason ?? null,
    body: body.length > 200 ? `${body.slice(0, 200)}…` : body,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
