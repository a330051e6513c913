// The soak: many jobs through a real cluster (APIs behind nginx, several workers, RabbitMQ behind a
// TCP proxy) while workers are SIGKILLed and restarted and the RabbitMQ link is cut; then a count of
// what became of every accepted job. Used by `npm run soak` (scripts/soak.ts, hundreds of jobs)
// and by test/faults/soak.test.ts (a short run inside `npm test`).
//
// Definitions:
// - accepted: POST answered 202.
// - lost: accepted, but not terminal by the deadline, or its status answers 404 (record gone).
// - duplicated: more than one completed run of the job. Two independent witnesses: the job's
//   changes channel (every committed version is published there atomically with the write; more
//   than one `succeeded` version would be a double success), and the workers' "job finished" log
//   lines (one per handler run that reached its final commit, including a run whose commit lost
//   because the job had already ended).
// - wrong result: succeeded, but its result is not what the demo handler returns for its payload.
import { setTimeout as delay } from "node:timers/promises";
import type { AcceptedJob, JobView } from "../../shared/schemas.ts";
import { type Cluster, startCluster } from "./cluster.ts";
import { bearer, postJob, request } from "./http.ts";
import { completionsInLogs, type JobHistory, watchJobHistory } from "./job-history.ts";
import { AMQP_URL, REDIS_URL } from "./stack.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

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
  },
): SubmitFlow {
  const submissions: Submission[] = [];
  const accepted: AcceptedJob[] = [];
  const payloads = new Map<string, Record<string, unknown>>();
  const target = opts.target ?? Number.POSITIVE_INFINITY;
  const pending = new Set<Submission>();
  let stopped = false;
  let issued = 0;
  const firstAt = Date.now();
  const loop = async () => {
    while (!stopped && accepted.length < target) {
      if (accepted.length + pending.size >= target) {
        await delay(10);
        continue;
      }
      // Reserve the submit (and its slot) before waiting, so the loops never overshoot the target.
      const n = issued++;
      const payload = opts.payload(n);
      const entry: Submission = { startedAt: 0, endedAt: 0, status: "error", payload };
      pending.add(entry);
      if (opts.ratePerSecond) {
        const slot = firstAt + (n * 1000) / opts.ratePerSecond;
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

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
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

export interface SoakOptions {
  jobs: number;
  apis?: number;
  workers?: number;
  /** Concurrent submitting clients. */
  concurrency?: number;
  /** Worker SIGKILLs (each followed by a restart). */
  kills?: number;
  /** RabbitMQ link cuts (every process's connection at once). */
  cuts?: number;
  cutMs?: number;
  /** Submits a second. Default: spread the jobs over the time the chaos needs (≈ 2.5 s a kill). */
  ratePerSecond?: number;
  /** How long jobs may take to end once all are accepted. */
  deadlineMs?: number;
  seed?: number;
  /** Progress lines (e.g. console.error); default silent. */
  onProgress?: (line: string) => void;
  /** Copy the processes' logs to stderr. */
  echo?: boolean;
}

export interface SoakReport {
  accepted: number;
  succeeded: number;
  failed: number;
  canceled: number;
  lost: number;
  duplicated: number;
  wrongResults: number;
  /** Jobs that needed more than one attempt (their worker was killed, or their link was cut). */
  retried: number;
  submit503: number;
  submitOther: number;
  workerKills: number;
  cuts: number;
  seconds: number;
  /** Job ids behind the non-zero bad counts, for a closer look. */
  details: { lost: string[]; duplicated: string[]; wrongResults: string[]; failed: string[] };
  /** The history watcher's own connection dropped: the changes-channel witness may have gaps. */
  historyDisconnects: number;
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const say = opts.onProgress ?? (() => undefined);
  const random = prng(opts.seed ?? 42);
  const chaosRandom = prng((opts.seed ?? 42) + 1); // its own stream: payloads are drawn concurrently
  const started = Date.now();
  const broker = new URL(AMQP_URL);
  const proxy: TcpProxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
  const proxied = new URL(AMQP_URL);
  proxied.port = String(proxy.port);
  let cluster: Cluster | undefined;
  let history: JobHistory | undefined;
  try {
    cluster = await startCluster({
      apis: opts.apis ?? 2,
      workers: opts.workers ?? 3,
      echo: opts.echo ?? false,
      readyTimeoutMs: 30_000,
      env: {
        AMQP_URL: proxied.href,
        PUBLISH_TIMEOUT_MS: "2000",
        LEASE_MS: "1500",
        RATE_LIMIT_SUBMIT_PER_MINUTE: "0",
        RATE_LIMIT_READ_PER_MINUTE: "0",
        MAX_JOBS_IN_FLIGHT: "0",
      },
    });
    history = await watchJobHistory(REDIS_URL, cluster.names);
    say(`cluster up: ${cluster.apis.length} APIs, ${cluster.workers.length} workers, namespace ${cluster.namespace}`);

    // Chaos, one event at a time, spread over the submissions: kill, cut, kill, cut…
    const kills = opts.kills ?? Math.max(1, Math.round(opts.jobs / 60));
    const cuts = opts.cuts ?? Math.max(1, Math.round(opts.jobs / 100));
    const cutMs = opts.cutMs ?? 1_500;
    // Submitting lasts longer than the chaos, so every event meets jobs in flight.
    const chaosSeconds = kills * 2.5 + cuts * (cutMs / 1000 + 1);
    const rate = opts.ratePerSecond ?? Math.max(1, opts.jobs / Math.max(5, chaosSeconds * 1.5));
    // Jobs of 0.05 to 2 s (0.7 s on average), so a killed worker is likely to be running some.
    const flow = startSubmitFlow(cluster.baseUrl, {
      concurrency: opts.concurrency ?? 8,
      target: opts.jobs,
      ratePerSecond: rate,
      payload: () => ({ steps: 1 + Math.floor(random() * 8), stepMs: 50 + Math.floor(random() * 200) }),
    });
    say(`submitting ${opts.jobs} jobs at ${rate.toFixed(1)}/s; ${kills} kill(s), ${cuts} cut(s) of ${cutMs} ms`);
    // A submit side that never gets its jobs in (e.g. the API stays unready) ends the run, not hangs it.
    const submitDeadline = Date.now() + ((opts.jobs / rate) * 3 + 60) * 1000;
    const events: ("kill" | "cut")[] = [];
    for (let i = 0; i < Math.max(kills, cuts); i++) {
      if (i < kills) events.push("kill");
      if (i < cuts) events.push("cut");
    }
    let workerKills = 0;
    let cutCount = 0;
    for (const [i, event] of events.entries()) {
      const due = Math.floor(((i + 1) * opts.jobs) / (events.length + 1));
      while (flow.accepted.length < due && Date.now() < submitDeadline) await delay(20);
      if (event === "kill") {
        const alive = cluster.workers.filter((w) => w.alive);
        const victim = alive[Math.floor(chaosRandom() * alive.length)];
        if (!victim) continue;
        await victim.kill("SIGKILL");
        workerKills++;
        say(`kill -9 ${victim.id} at ${flow.accepted.length} accepted`);
        await victim.restart();
        say(`${victim.id} restarted`);
      } else {
        await proxy.cut();
        cutCount++;
        say(`RabbitMQ link cut at ${flow.accepted.length} accepted`);
        await delay(cutMs); // the length of the outage, not a synchronisation
        proxy.resume();
        say("RabbitMQ link back");
      }
    }
    const giveUp = new AbortController();
    const expired = delay(Math.max(0, submitDeadline - Date.now()), undefined, { signal: giveUp.signal }).catch(
      () => undefined,
    );
    await Promise.race([flow.done, expired]);
    giveUp.abort();
    await flow.stop();
    say(`all ${flow.accepted.length} accepted after ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for them`);

    const outcomes = await awaitTerminal(cluster.baseUrl, flow.accepted, { deadlineMs: opts.deadlineMs ?? 60_000 });
    const completions = completionsInLogs(cluster.workers.map((w) => w.output()));
    const report: SoakReport = {
      accepted: flow.accepted.length,
      succeeded: 0,
      failed: 0,
      canceled: 0,
      lost: 0,
      duplicated: 0,
      wrongResults: 0,
      retried: 0,
      submit503: flow.submissions.filter((s) => s.status === 503).length,
      submitOther: flow.submissions.filter((s) => s.status !== 503 && s.status !== 202).length,
      workerKills,
      cuts: cutCount,
      seconds: 0,
      details: { lost: [], duplicated: [], wrongResults: [], failed: [] },
      historyDisconnects: history.disconnects,
    };
    const succeeded: AcceptedJob[] = [];
    for (const job of flow.accepted) {
      const o = outcomes.get(job.id);
      if (o?.kind !== "terminal") {
        report.lost++;
        report.details.lost.push(job.id);
        continue;
      }
      if (o.view.attempts > 1) report.retried++;
      if (o.view.status === "succeeded") {
        report.succeeded++;
        succeeded.push(job);
      } else if (o.view.status === "failed") {
        report.failed++;
        report.details.failed.push(job.id);
      } else report.canceled++;
      if (history.succeededCommits(job.id) > 1 || (completions.get(job.id) ?? 0) > 1) {
        report.duplicated++;
        report.details.duplicated.push(job.id);
      }
    }
    await mapLimit(succeeded, 16, async (job) => {
      const result = await request(`${cluster?.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) }).catch(
        () => null,
      );
      const steps = flow.payloads.get(job.id)?.steps;
      if (result?.status !== 200 || (result.body as { steps?: unknown } | null)?.steps !== steps) {
        report.wrongResults++;
        report.details.wrongResults.push(job.id);
      }
    });
    report.seconds = Math.round((Date.now() - started) / 100) / 10;
    return report;
  } finally {
    await history?.close().catch(() => undefined);
    await cluster?.stop().catch((err: unknown) => say(`cluster stop: ${String(err)}`));
    await proxy.close();
  }
}

/** The table `npm run soak` prints. */
export function formatReport(r: SoakReport): string {
  const rows: [string, number | string][] = [
    ["accepted", r.accepted],
    ["succeeded", r.succeeded],
    ["failed", r.failed],
    ["canceled", r.canceled],
    ["lost", r.lost],
    ["duplicated", r.duplicated],
    ["wrong results", r.wrongResults],
    ["retried (attempts > 1)", r.retried],
    ["submit 503s", r.submit503],
    ["submit other errors", r.submitOther],
    ["worker kills", r.workerKills],
    ["RabbitMQ cuts", r.cuts],
    ["seconds", r.seconds],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${String(v).padStart(7)}`).join("\n");
}

/** Non-zero bad counts make the soak fail. */
export const soakPassed = (r: SoakReport): boolean => r.lost === 0 && r.duplicated === 0 && r.wrongResults === 0;
