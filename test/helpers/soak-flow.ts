// The client side of the soak and of other fault tests: a seeded PRNG, a flow of submitting
// clients (paced, bounded, retrying refused submits), and a poll of many jobs until they end.
import { setTimeout as delay } from "node:timers/promises";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { bearer, postJob, request } from "./http.ts";

/** A small seeded PRNG (mulberry32): the same seed gives the same payloads and chaos choices. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Submission {
  startedAt: number;
  endedAt: number;
  /** HTTP status, or "error" when the request itself failed (connection reset…). */
  status: number | "error";
  problemType?: string;
  job?: AcceptedJob;
  payload: Record<string, unknown>;
}

export interface SubmitFlow {
  readonly submissions: readonly Submission[];
  readonly accepted: readonly AcceptedJob[];
  /** Payload of each accepted job, by id. */
  readonly payloads: ReadonlyMap<string, Record<string, unknown>>;
  /** Resolves when `target` jobs are accepted, or after stop(). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * `concurrency` loops POSTing demo jobs until `target` are accepted (or stop()). A refused submit
 * (503, network error) is retried after `retryPauseMs`, as a client honouring Retry-After would.
 */
export function startSubmitFlow(
  baseUrl: string,
  opts: {
    concurrency: number;
    target?: number;
    payload: (n: number) => Record<string, unknown>;
    retryPauseMs?: number;
    /** At most this many submits a second, over all loops (retries included). Default: no bound. */
    ratePerSecond?: number;
    /** How many jobs may be accepted (or on their way) by now; the loops wait while it is reached.
     * Default: no bound besides `target`. */
    limit?: () => number;
  },
): SubmitFlow {
  const submissions: Submission[] = [];
  const accepted: AcceptedJob[] = [];
  const payloads = new Map<string, Record<string, unknown>>();
  const target = opts.target ?? Number.POSITIVE_INFINITY;
  const pending = new Set<Submission>();
  let stopped = false;
  let issued = 0;
  let nextSlot = Date.now();
  const loop = async () => {
    while (!stopped && accepted.length < target) {
      if (accepted.length + pending.size >= Math.min(target, opts.limit?.() ?? target)) {
        await delay(10);
        continue;
      }
      // Reserve the submit (and its slot) before waiting, so the loops never overshoot the target.
      const n = issued++;
      const payload = opts.payload(n);
      const entry: Submission = { startedAt: 0, endedAt: 0, status: "error", payload };
      pending.add(entry);
      if (opts.ratePerSecond) {
        // Slots are spaced from the last one, so a pause (the limit) is not followed by a burst.
        const slot = Math.max(Date.now(), nextSlot);
        nextSlot = slot + 1000 / opts.ratePerSecond;
        if (slot > Date.now()) await delay(slot - Date.now());
      }
      if (stopped) {
        pending.delete(entry);
        break;
      }
      entry.startedAt = Date.now();
      try {
        const reply = await postJob(baseUrl, { type: "demo", payload });
        entry.status = reply.status;
        if (reply.status === 202) {
          const job = reply.body as AcceptedJob;
          entry.job = job;
          accepted.push(job);
          payloads.set(job.id, payload);
        } else {
          entry.problemType = (reply.body as { type?: string } | null)?.type;
        }
      } catch {
        entry.status = "error";
      } finally {
        entry.endedAt = Date.now();
        pending.delete(entry);
        submissions.push(entry);
      }
      if (entry.status !== 202) await delay(opts.retryPauseMs ?? 100);
    }
  };
  const done = Promise.all(Array.from({ length: opts.concurrency }, loop)).then(() => undefined);
  return {
    submissions,
    accepted,
    payloads,
    done,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

export type Outcome = { kind: "terminal"; view: JobView } | { kind: "missing" } | { kind: "pending"; view?: JobView };

/** Polls every job's status (through the API, with its token) until all are terminal or the deadline. */
export async function awaitTerminal(
  baseUrl: string,
  jobs: readonly { id: string; token: string }[],
  { deadlineMs, concurrency = 16, everyMs = 250 }: { deadlineMs: number; concurrency?: number; everyMs?: number },
): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>(jobs.map((j) => [j.id, { kind: "pending" }]));
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const open = jobs.filter((j) => outcomes.get(j.id)?.kind === "pending");
    await mapLimit(open, concurrency, async (job) => {
      try {
        const reply = await request<JobView>(`${baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
        if (reply.status === 404) outcomes.set(job.id, { kind: "missing" });
        else if (reply.status === 303 || (reply.status === 200 && ["failed", "canceled"].includes(reply.body.status)))
          outcomes.set(job.id, { kind: "terminal", view: reply.body });
        else if (reply.status === 200) outcomes.set(job.id, { kind: "pending", view: reply.body });
      } catch {
        // unreachable for a moment: ask again next round
      }
    });
    if (![...outcomes.values()].some((o) => o.kind === "pending") || Date.now() >= deadline) return outcomes;
    await delay(everyMs);
  }
}

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}
