// The chaos soak: many demo jobs (some failing their first tries on purpose, so they run on their
// last attempt) through a real cluster — APIs behind nginx, several workers, RabbitMQ behind a TCP
// proxy, a private AOF Redis (`appendfsync always`) — while workers are killed (SIGKILL) and
// stopped (SIGTERM) while they provably run jobs, APIs are killed, the RabbitMQ link is cut and
// Redis is killed, each followed by a restart; then a count of what became of every accepted job.
// Used by `npm run soak` (scripts/soak.ts, hundreds of jobs) and test/faults/soak.test.ts (short).
//
// Definitions:
// - accepted: POST answered 202.
// - lost: accepted, but not terminal by the deadline, or its status answers 404 (record gone).
// - duplicated: more than one completed run of the job. Three witnesses: the job's record writes
//   seen through MONITOR (more than one `succeeded` version written), the AOF (more than one
//   `succeeded` version committed: complete across Redis kills, where the monitor has gaps), and the workers' "job
//   finished" log lines (one per handler run that reached its final commit).
// - wrong outcome: the end differs from what the job's payload and the SIGKILLs that provably hit
//   it allow (soak-verdict.ts): e.g. `failAttempts` below the attempt limit must end `succeeded`
//   unless SIGKILLs spent the attempts it needed; or succeeded with a wrong result.
// - crash: a process that exited without being told to (or not cleanly after SIGTERM). A crashed
//   process is restarted, as a supervisor would, and the soak goes on.
import { setTimeout as delay } from "node:timers/promises";
import { demoJob } from "../../services/worker/jobs/demo.ts";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { type Cluster, startCluster } from "./cluster.ts";
import { type ExitWatch, watchExits } from "./exit-watch.ts";
import { bearer, request } from "./http.ts";
import { completionsInLogs, type JobHistory, watchJobHistory } from "./job-history.ts";
import { type SoakBrokerSet, type SoakClusters, startSoakBrokers } from "./soak-brokers.ts";
import { type Chaos, type Fault, type FaultKind, restart, runFault, type Wanted } from "./soak-chaos.ts";
import { awaitTerminal, mapLimit, prng, startSubmitFlow } from "./soak-flow.ts";
import { expectedOutcome, mismatch } from "./soak-verdict.ts";
import { randomNamespace } from "./stack.ts";

export {
  awaitTerminal,
  mapLimit,
  type Outcome,
  prng,
  type Submission,
  type SubmitFlow,
  startSubmitFlow,
} from "./soak-flow.ts";

export interface SoakOptions {
  jobs: number;
  apis?: number;
  workers?: number;
  /** Concurrent submitting clients. */
  concurrency?: number;
  /** Worker SIGKILLs, each while the worker runs a job (then a restart). */
  kills?: number;
  /** Worker SIGTERMs, each while the worker runs a job, preferably one on its last attempt. */
  terms?: number;
  /** API SIGKILLs (then a restart). */
  apiKills?: number;
  /** RabbitMQ link cuts (every process's connection at once). */
  cuts?: number;
  cutMs?: number;
  /** Redis SIGKILLs while jobs run (then a restart on the same AOF); on clusters, of the master
   * holding a running job (its replica takes over; the old master comes back as a replica). */
  redisKills?: number;
  /** On clusters: RabbitMQ node SIGKILLs, taking turns between the node most processes are on and
   * the jobs queue's leader (then a restart). Default jobs / 100, at least 2. */
  rabbitKills?: number;
  /** A private Redis Cluster and RabbitMQ cluster instead of a private Redis and the shared RabbitMQ:
   * `true` starts them (and stops them at the end), or the soak runs on clusters a test started
   * (left running; their nodes may have changed roles). */
  clusters?: boolean | SoakClusters;
  redisDownMs?: number;
  /** Share of jobs with `failAttempts` 1 to 3 (maxAttempts is 3). Default 0.3. */
  failAttemptsRatio?: number;
  /** Workers' SHUTDOWN_GRACE_MS. Default 500: a SIGTERM hands back longer jobs. */
  workerGraceMs?: number;
  /** Submits a second. Default: spread the jobs over the time the chaos needs. */
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
  wrongOutcomes: number;
  crashes: number;
  /** Faults asked for that found nothing to hit (the soak did not test what it claims). */
  skippedFaults: number;
  /** Failed as their payload and the SIGKILLs that hit them say they must. */
  failedAsExpected: number;
  /** Jobs that needed more than one attempt. */
  retried: number;
  submit503: number;
  submitOther: number;
  workerKills: number;
  workerTerms: number;
  apiKills: number;
  cuts: number;
  redisKills: number;
  rabbitKills: number;
  /** Run on a Redis Cluster and a RabbitMQ cluster. */
  clusters: boolean;
  /** Job attempts each kind of fault hit (SIGKILL, SIGTERM: provably running; Redis: running). */
  hit: { killed: number; termed: number; termedLastAttempt: number; redisKilled: number };
  witnesses: { historyReconnects: number; monitorDrops: number; aofComplete: boolean };
  seconds: number;
  /** One line per bad job or crash, saying why. */
  details: { lost: string[]; duplicated: string[]; wrongOutcomes: string[]; crashes: string[]; skipped: string[] };
  faults: Fault[];
}

type DemoPayload = { steps: number; stepMs: number; failAttempts?: number };

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const say = opts.onProgress ?? (() => undefined);
  const random = prng(opts.seed ?? 42);
  const chaosRandom = prng((opts.seed ?? 42) + 1); // its own stream: payloads are drawn concurrently
  const started = Date.now();
  const maxAttempts = demoJob.retry.maxAttempts;
  const workerGraceMs = opts.workerGraceMs ?? 500;
  const namespace = randomNamespace("soak");

  let brokers: SoakBrokerSet | undefined;
  let cluster: Cluster | undefined;
  let history: JobHistory | undefined;
  let exits: ExitWatch | undefined;
  const mode = opts.clusters ? "clusters" : "standalone";
  try {
    const pids = (): number[] =>
      [process.pid, ...[...(cluster?.apis ?? []), ...(cluster?.workers ?? [])].map((p) => p.process?.pid)].filter(
        (pid): pid is number => pid !== undefined,
      );
    brokers = await startSoakBrokers(
      mode,
      namespace,
      pids,
      say,
      typeof opts.clusters === "object" ? opts.clusters : undefined,
    );
    const { control, monitor, writes, owners } = brokers;

    cluster = await startCluster({
      apis: opts.apis ?? 2,
      workers: opts.workers ?? 3,
      namespace,
      echo: opts.echo ?? false,
      // Four or five processes starting at once against clusters on a busy machine.
      readyTimeoutMs: mode === "clusters" ? 120_000 : 30_000,
      redis: brokers.redis,
      env: {
        AMQP_URL: brokers.amqpUrl,
        PUBLISH_TIMEOUT_MS: mode === "clusters" ? "5000" : "2000",
        LEASE_MS: "1500",
        QUEUE_WATCHDOG_MS: "10000",
        RATE_LIMIT_SUBMIT_PER_MINUTE: "0",
        RATE_LIMIT_READ_PER_MINUTE: "0",
        MAX_JOBS_IN_FLIGHT: "0",
      },
      workerEnv: { SHUTDOWN_GRACE_MS: String(workerGraceMs) },
    });
    const theCluster = cluster;
    // The record-writes witness taps one Redis (MONITOR, job-history.ts). On a Redis Cluster the
    // masters change under the soak: there the AOFs of every node are the witness.
    if (brokers.watchedRedis) history = await watchJobHistory(brokers.watchedRedis.url, cluster.names);
    exits = watchExits(() => [...theCluster.apis, ...theCluster.workers], {
      nginx: cluster.nginx.process,
      ...(brokers.watchedRedis ? { redis: brokers.watchedRedis } : {}),
    });
    say(`cluster up: ${cluster.apis.length} APIs, ${cluster.workers.length} workers, namespace ${namespace}`);

    // One lane for everything that stops and starts processes: faults, and restarts after crashes.
    let lane: Promise<unknown> = Promise.resolve();
    const inLane = <T>(fn: () => Promise<T>): Promise<T> => {
      const run = lane.then(fn);
      lane = run.catch(() => undefined);
      return run;
    };
    exits.onCrash((p, crash) => {
      say(`CRASH ${crash.id} (${crash.exit}); restarting it`);
      void inLane(() => restart({ say }, p)).catch((err: unknown) => say(`${p.id} stays down: ${String(err)}`));
    });

    const clusters = mode === "clusters";
    const counts: Record<FaultKind, number> = {
      "worker-kill": opts.kills ?? Math.max(1, Math.round(opts.jobs / 60)),
      // On clusters a RabbitMQ node is killed instead of the link being cut.
      cut: clusters ? 0 : (opts.cuts ?? Math.max(1, Math.round(opts.jobs / 100))),
      "rabbit-kill": clusters ? (opts.rabbitKills ?? Math.max(2, Math.round(opts.jobs / 100))) : 0,
      "worker-term": opts.terms ?? Math.max(1, Math.round(opts.jobs / 60)),
      "api-kill": opts.apiKills ?? Math.max(1, Math.round(opts.jobs / 150)),
      "redis-kill": opts.redisKills ?? Math.max(1, Math.round(opts.jobs / 150)),
    };
    // Round by round in this order. On clusters the Redis master kill comes second, before the
    // RabbitMQ node kill and the rest: it needs a job running, and late in a short soak (or while
    // the queue's leader moves) none may be.
    const order: FaultKind[] = clusters
      ? ["worker-kill", "redis-kill", "rabbit-kill", "worker-term", "api-kill", "cut"]
      : (Object.keys(counts) as FaultKind[]);
    const events: FaultKind[] = [];
    for (let i = 0; i < Math.max(...Object.values(counts)); i++) {
      for (const kind of order) if (i < counts[kind]) events.push(kind);
    }
    const cutMs = opts.cutMs ?? 1_500;
    const redisDownMs = opts.redisDownMs ?? 1_000;
    // Roughly what the chaos takes (a restart is a few seconds); submitting should last longer.
    const chaosSeconds =
      counts["worker-kill"] * 3 +
      counts["worker-term"] * (3 + workerGraceMs / 1000) +
      counts["api-kill"] * 3 +
      counts.cut * (cutMs / 1000 + 1) +
      counts["redis-kill"] * (redisDownMs / 1000 + (clusters ? 8 : 3)) +
      counts["rabbit-kill"] * 20;
    const rate = opts.ratePerSecond ?? Math.max(1, opts.jobs / Math.max(5, chaosSeconds * 1.5));

    // Fault i is due once dues[i] jobs are accepted. The submitters stay at most half a share
    // ahead of the faults: until fault i has begun, no more than dues[i] + share / 2 jobs go in, so
    // every fault has jobs still to come however slow the machine (or the faults before it) is.
    const share = opts.jobs / (events.length + 1);
    const dues = events.map((_, i) => Math.floor((i + 1) * share));
    let begun = 0;
    let steer: Wanted | null = null;
    const ratio = opts.failAttemptsRatio ?? 0.3;
    const flow = startSubmitFlow(cluster.baseUrl, {
      concurrency: opts.concurrency ?? 8,
      target: opts.jobs,
      ratePerSecond: rate,
      limit: () => (begun < events.length ? (dues[begun] ?? 0) + Math.ceil(share / 2) : opts.jobs),
      payload: (): DemoPayload => {
        // Asked for by a waiting fault: two failed tries, then a 2.5 s last attempt (SIGTERM); or a
        // progress commit, and its event, every 5 ms for 1.5 s (Redis kill).
        if (steer === "last-attempt") return { steps: 10, stepMs: 250, failAttempts: 2 };
        if (steer === "chatty") return { steps: 300, stepMs: 5 };
        const failAttempts = random() < ratio ? ([1, 2, 2, 3][Math.floor(random() * 4)] as number) : 0;
        // Jobs that fail on purpose run longer (0.6 to 3 s), so their last attempt can outlive a
        // worker's grace period; the others take 0.05 to 2 s.
        return failAttempts > 0
          ? { steps: 4 + Math.floor(random() * 7), stepMs: 150 + Math.floor(random() * 150), failAttempts }
          : { steps: 1 + Math.floor(random() * 8), stepMs: 50 + Math.floor(random() * 200) };
      },
    });
    const payloadOf = (id: string) => flow.payloads.get(id) as DemoPayload | undefined;
    say(`submitting ${opts.jobs} jobs at ${rate.toFixed(1)}/s; faults: ${events.join(", ")}`);

    const chaos: Chaos = {
      cluster,
      brokers: brokers.brokers,
      control,
      monitor,
      syncTap: brokers.syncTap,
      rolesChanged: brokers.rolesChanged,
      writes,
      owners,
      exits,
      random: chaosRandom,
      say,
      payloadOf,
      maxAttempts,
      workerGraceMs,
      cutMs,
      redisDownMs,
      strikeTimeoutMs: 60_000,
      lastAttemptPatienceMs: 45_000,
      steer: (want) => {
        steer = want;
      },
    };
    // A submit side that never gets its jobs in (e.g. the API stays unready) ends the run, not hangs it.
    const submitDeadline = Date.now() + ((opts.jobs / rate) * 3 + 120) * 1000;
    const faults: Fault[] = [];
    for (const [i, kind] of events.entries()) {
      while (flow.accepted.length < (dues[i] ?? 0) && Date.now() < submitDeadline) await delay(20);
      say(`${kind} at ${flow.accepted.length} accepted`);
      begun = i + 1;
      faults.push(await inLane(() => runFault(chaos, kind)));
    }
    begun = events.length;
    const giveUp = new AbortController();
    const expired = delay(Math.max(0, submitDeadline - Date.now()), undefined, { signal: giveUp.signal }).catch(
      () => undefined,
    );
    await Promise.race([flow.done, expired]);
    giveUp.abort();
    await flow.stop();
    say(`all ${flow.accepted.length} accepted after ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for them`);

    const outcomes = await awaitTerminal(cluster.baseUrl, flow.accepted, { deadlineMs: opts.deadlineMs ?? 60_000 });
    await inLane(async () => undefined); // restarts after late crashes are done
    const durable = brokers.durable();
    const completions = completionsInLogs(cluster.workers.map((w) => w.output()));

    const killed = attemptsHit(faults, "worker-kill");
    const termed = attemptsHit(faults, "worker-term");
    const redisHit = attemptsHit(faults, "redis-kill");
    const report: SoakReport = {
      accepted: flow.accepted.length,
      succeeded: 0,
      failed: 0,
      canceled: 0,
      lost: 0,
      duplicated: 0,
      wrongOutcomes: 0,
      crashes: exits.crashes.length,
      skippedFaults: faults.filter((f) => f.kind === "skipped").length,
      failedAsExpected: 0,
      retried: 0,
      submit503: flow.submissions.filter((s) => s.status === 503).length,
      submitOther: flow.submissions.filter((s) => s.status !== 503 && s.status !== 202).length,
      workerKills: faults.filter((f) => f.kind === "worker-kill").length,
      workerTerms: faults.filter((f) => f.kind === "worker-term").length,
      apiKills: faults.filter((f) => f.kind === "api-kill").length,
      cuts: faults.filter((f) => f.kind === "cut").length,
      redisKills: faults.filter((f) => f.kind === "redis-kill").length,
      rabbitKills: faults.filter((f) => f.kind === "rabbit-kill").length,
      clusters,
      hit: {
        killed: count(killed),
        termed: count(termed),
        termedLastAttempt: faults.flatMap((f) => (f.kind === "worker-term" ? f.jobs.filter((j) => j.last) : [])).length,
        redisKilled: count(redisHit),
      },
      witnesses: {
        historyReconnects: history?.disconnects ?? 0,
        monitorDrops: monitor.drops,
        aofComplete: durable.complete,
      },
      seconds: 0,
      details: {
        lost: [],
        duplicated: [],
        wrongOutcomes: [],
        crashes: exits.crashes.map((c) => `${c.id} (pid ${c.pid}): ${c.exit}; last output:\n${lastLines(c.tail, 16)}`),
        skipped: faults.flatMap((f) => (f.kind === "skipped" ? [`${f.what}: ${f.why}`] : [])),
      },
      faults,
    };

    const explain = (id: string): string => {
      const p = payloadOf(id);
      const touched = [
        ...[...(killed.get(id) ?? [])].map((a) => `SIGKILL on attempt ${a}`),
        ...[...(termed.get(id) ?? [])].map((a) => `SIGTERM on attempt ${a}`),
        ...[...(redisHit.get(id) ?? [])].map((a) => `Redis kill during attempt ${a}`),
      ];
      return (
        `failAttempts ${p?.failAttempts ?? 0}, ${p?.steps}×${p?.stepMs} ms; ` +
        `faults: ${touched.join(", ") || "none seen"}; history: ${durable.describe(id)}`
      );
    };
    const succeeded: AcceptedJob[] = [];
    for (const job of flow.accepted) {
      const o = outcomes.get(job.id);
      if (o?.kind !== "terminal") {
        report.lost++;
        const now =
          o?.kind === "pending" && o.view ? `${o.view.status}, attempts ${o.view.attempts}` : (o?.kind ?? "?");
        report.details.lost.push(`${job.id}: not terminal by the deadline (${now}); ${explain(job.id)}`);
        continue;
      }
      const view = o.view;
      if (view.attempts > 1) report.retried++;
      if (view.status === "succeeded") {
        report.succeeded++;
        succeeded.push(job);
      } else if (view.status === "failed") report.failed++;
      else report.canceled++;
      const expected = expectedOutcome(
        payloadOf(job.id)?.failAttempts ?? 0,
        maxAttempts,
        killed.get(job.id) ?? new Set(),
      );
      const wrong = mismatch(expected, { status: view.status, ...(view.error ? { errorType: view.error.type } : {}) });
      if (wrong) {
        report.wrongOutcomes++;
        const why = view.error ? ` ("${view.error.detail ?? view.error.title}")` : "";
        report.details.wrongOutcomes.push(`${job.id}: ${wrong}${why}, attempts ${view.attempts}; ${explain(job.id)}`);
      } else if (view.status === "failed") report.failedAsExpected++;
      const seen = [
        ["record writes", history?.succeededCommits(job.id) ?? 0],
        ["AOF", durable.succeededCommits(job.id)],
        ["worker logs", completions.get(job.id) ?? 0],
      ] as const;
      const twice = seen.filter(([, n]) => n > 1);
      if (twice.length > 0) {
        report.duplicated++;
        const witnesses = twice.map(([w, n]) => `${n} in ${w}`).join(", ");
        report.details.duplicated.push(`${job.id}: completed more than once (${witnesses}); ${explain(job.id)}`);
      }
    }
    await mapLimit(succeeded, 16, async (job) => {
      const result = await request(`${cluster?.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) }).catch(
        () => null,
      );
      const steps = payloadOf(job.id)?.steps;
      if (result?.status !== 200 || (result.body as { steps?: unknown } | null)?.steps !== steps) {
        report.wrongOutcomes++;
        const got = result ? `${result.status} ${JSON.stringify(result.body)}` : "no answer";
        report.details.wrongOutcomes.push(`${job.id}: succeeded, but its result is ${got} (want steps ${steps})`);
      }
    });
    report.seconds = Math.round((Date.now() - started) / 100) / 10;
    return report;
  } finally {
    exits?.stop();
    await history?.close().catch(() => undefined);
    await cluster?.stop().catch((err: unknown) => say(`cluster stop: ${String(err)}`));
    await brokers?.stop();
  }
}

/** Job id → attempts that faults of `kind` hit. */
function attemptsHit(faults: readonly Fault[], kind: "worker-kill" | "worker-term" | "redis-kill") {
  const hit = new Map<string, Set<number>>();
  for (const f of faults) {
    if (f.kind !== kind) continue;
    for (const j of f.jobs) hit.set(j.id, (hit.get(j.id) ?? new Set()).add(j.attempt));
  }
  return hit;
}

const count = (hit: ReadonlyMap<string, ReadonlySet<number>>): number =>
  [...hit.values()].reduce((n, s) => n + s.size, 0);

function lastLines(text: string, n: number): string {
  return text
    .trimEnd()
    .split("\n")
    .slice(-n)
    .map((l) => `    ${l}`)
    .join("\n");
}

/** The table `npm run soak` prints. */
export function formatReport(r: SoakReport): string {
  const rows: [string, number | string][] = [
    ["accepted", r.accepted],
    ["succeeded", r.succeeded],
    ["failed", r.failed],
    ["  of which as expected", r.failedAsExpected],
    ["canceled", r.canceled],
    ["lost", r.lost],
    ["duplicated", r.duplicated],
    ["wrong outcomes", r.wrongOutcomes],
    ["process crashes", r.crashes],
    ["faults skipped", r.skippedFaults],
    ["retried (attempts > 1)", r.retried],
    ["submit 503s", r.submit503],
    ["submit other errors", r.submitOther],
    ["worker kill -9", `${r.workerKills} (attempts hit: ${r.hit.killed})`],
    ["worker SIGTERM", `${r.workerTerms} (attempts hit: ${r.hit.termed}, last: ${r.hit.termedLastAttempt})`],
    ["API kill -9", r.apiKills],
    ...(r.clusters
      ? ([
          ["RabbitMQ node kill -9", r.rabbitKills],
          ["Redis master kill -9", `${r.redisKills} (attempts running: ${r.hit.redisKilled})`],
        ] as [string, number | string][])
      : ([
          ["RabbitMQ cuts", r.cuts],
          ["Redis kill -9", `${r.redisKills} (attempts running: ${r.hit.redisKilled})`],
        ] as [string, number | string][])),
    ["AOF witness complete", r.witnesses.aofComplete ? "yes" : "NO"],
    ["seconds", r.seconds],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${String(v).padStart(7)}`).join("\n");
}

/** The reasons behind the bad counts, one line per job or crash (at most `limit` per kind). */
export function formatDetails(r: SoakReport, limit = 50): string {
  const out: string[] = [];
  for (const [what, lines] of Object.entries(r.details)) {
    if (lines.length === 0) continue;
    out.push(`${what} (${lines.length}):`);
    for (const line of lines.slice(0, limit)) out.push(`  ${line}`);
    if (lines.length > limit) out.push(`  … ${lines.length - limit} more`);
  }
  return out.join("\n");
}

/** Non-zero bad counts make the soak fail (a skipped fault too: then it did not test what it says). */
export const soakPassed = (r: SoakReport): boolean =>
  r.lost === 0 && r.duplicated === 0 && r.wrongOutcomes === 0 && r.crashes === 0 && r.skippedFaults === 0;
