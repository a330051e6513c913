// The operator's view of the dead-letter queue: list what is there, and replay messages (all,
// or chosen job ids) back onto the jobs queue with their jobs reset to `queued`.
import type { Channel, GetMessage } from "amqplib";
import type { JobEventPublisher } from "./job-events.ts";
import type { JobQueue } from "./job-queue.ts";
import { type JobStore, transition } from "./job-store.ts";
import { toView } from "./job-view.ts";
import type { Names } from "./names.ts";
import { isTerminal, JobMessage } from "./schemas.ts";

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

/** Replays dead letters whose job id is in `only` (or all, when `only` is null). Messages that are
 * not job messages, or whose job is gone, stay in the queue. Returns the replayed job ids. */
export async function replayDeadLetters(
  deps: ReplayDeps,
  only: ReadonlySet<string> | null,
  max = 1000,
): Promise<string[]> {
  const replayed: string[] = [];
  const keep: GetMessage[] = [];
  for (let i = 0; i < max; i++) {
    const msg = await deps.ch.get(deps.names.deadLetterQueue, { noAck: false });
    if (!msg) break;
    const parsed = JobMessage.safeParse(safeJson(msg.content.toString("utf8")));
    if (!parsed.success || (only && !only.has(parsed.data.jobId))) {
      keep.push(msg);
      continue;
    }
    const jobId = parsed.data.jobId;
    // A fresh set of attempts; terminal or stuck states go back to `queued`.
    const reset = await transition(deps.store, jobId, (cur) => ({
      status: "queued",
      attempts: 0,
      error: undefined,
      finishedAt: undefined,
      retryAt: undefined,
      cancelRequested: undefined,
      progress: isTerminal(cur.status) ? { percent: 0 } : cur.progress,
    }));
    if (!reset) {
      keep.push(msg);
      continue;
    }
    deps.events.publish(toView(reset));
    await deps.queue.publish(parsed.data);
    deps.ch.ack(msg);
    replayed.push(jobId);
  }
  for (const msg of keep) deps.ch.nack(msg, false, true);
  return replayed;
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
