// Graceful shutdown with real processes behind nginx: every API and worker is restarted in turn
// (SIGTERM, exit 0, start again) while clients keep submitting and watching. No accepted job is
// lost; workers hand back what they could not finish in their grace period; a held long poll is
// answered at once when its instance stops.
//
// Nothing here depends on the machine's speed: the held long poll holds a version nothing can
// change (a running one-step job of 60 s), waits are awaited events or deadline-bounded polls, and
// the per-client limits are off (every request comes from 127.0.0.1; the limits have their own tests).
import { expect } from "chai";
import { HeraldClient, JobFailedError } from "../../shared/client/index.ts";
import { isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { bearer, isRunning, postJob, request, submit, waitForStatus } from "../helpers/http.ts";
import { subscribed } from "../helpers/realtime.ts";
import { log, noLimits, REDIS_URL } from "../helpers/stack.ts";

describe("e2e: rolling restart behind nginx", function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  before(async () => {
    cluster = await startCluster({
      apis: 2,
      workers: 2,
      workerEnv: { SHUTDOWN_GRACE_MS: "300", WORKER_PREFETCH: "2" },
      apiEnv: { SHUTDOWN_GRACE_MS: "2000", ...noLimits },
      readyTimeoutMs: 90_000, // a busy machine starts four node processes slowly
    });
  });
  after(async () => {
    await cluster?.stop();
  });
  const the = (): Cluster => {
    if (!cluster) throw new Error("no cluster (its setup failed)");
    return cluster;
  };

  it("a held long poll is answered at once when its instance shuts down", async () => {
    const c = the();
    const api = c.apis[0];
    if (!api) throw new Error("no api");
    // One step of 60 s: once running, the job's version holds still for a minute.
    const job = await submit(api.url, "demo", { steps: 1, stepMs: 60_000 });
    try {
      const running = await waitForStatus(api.url, job, isRunning, { what: "running" });
      const etag = running.headers.get("etag") ?? "";
      const started = Date.now();
      const held = request(`${api.url}/jobs/${job.id}`, {
        headers: { ...bearer(job.token), "if-none-match": etag, prefer: "wait=60" },
      });
      // The held request subscribes to the job's events channel: once Redis counts a subscriber,
      // the request is waiting.
      const redis = await connectRedis(REDIS_URL, log, 5_000);
      try {
        await subscribed(redis, c.names.jobEventsChannel(job.id));
      } finally {
        await redis.close();
      }
      const exit = api.kill("SIGTERM");
      const reply = await held;
      // Nothing changed: the instance answers what a wait that ended without news answers.
      expect(reply.status).to.equal(304);
      expect(reply.headers.get("etag")).to.equal(etag);
      expect(Date.now() - started).to.be.below(30_000, "answered at shutdown, not after the 60 s wait");
      expect(await exit).to.deep.equal({ code: 0, signal: null });
      await api.restart();
    } finally {
      await request(`${c.baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
    }
  });

  it("restarting every API and worker in turn loses no accepted job", async () => {
    const c = the();
    const accepted: { id: string; token: string }[] = [];
    let refused = 0;
    let stop = false;
    // Clients keep submitting through nginx; a refused or broken submit is retried (it was not accepted).
    const submitter = (async () => {
      while (!stop) {
        try {
          const r = await postJob(c.baseUrl, { type: "demo", payload: { steps: 2, stepMs: 100 } });
          if (r.status === 202) accepted.push(r.body as { id: string; token: string });
          else refused++;
        } catch {
          refused++;
        }
        await new Promise((r) => setTimeout(r, 50)); // pacing, not synchronisation
      }
    })();
    const watcher = new HeraldClient({
      baseUrl: c.baseUrl,
      socket: { socketOptions: { transports: ["websocket"] } },
    });
    try {
      // A long job (100 s) runs on some worker during every worker's restart: whichever worker holds
      // it when its SIGTERM comes must hand it back (its grace is 300 ms).
      const watched = await watcher.submit("demo", { steps: 1000, stepMs: 100 });
      const updates: JobView[] = [];
      const watch = watcher.watch(watched, { onUpdate: (v) => updates.push(v) });
      await waitForStatus(c.baseUrl, watched, isRunning, { what: "the long job running" });
      const exits = [];
      for (const p of [...c.workers, ...c.apis]) {
        // Pacing by events: a few more jobs accepted since the last restart.
        const before = accepted.length;
        await pollUntil(() => accepted.length >= before + 3, { timeoutMs: 30_000, what: "3 more accepted jobs" });
        exits.push({ id: p.id, exit: await p.kill("SIGTERM") });
        await p.restart();
      }
      // The watch came through the API restarts: it still receives the long job's progress.
      const seen = updates.at(-1)?.version ?? 0;
      await pollUntil(() => (updates.at(-1)?.version ?? 0) > seen, {
        timeoutMs: 30_000,
        what: "a progress event after every instance restarted",
      });
      stop = true;
      await submitter;
      for (const e of exits) expect(e.exit, e.id).to.deep.equal({ code: 0, signal: null });
      expect(accepted.length).to.be.at.least(12);

      // Every accepted job ends succeeded (one deadline for all of them).
      const deadline = Date.now() + 90_000;
      const finals: JobView[] = [];
      for (const job of accepted) {
        const reply = await pollUntil(
          async () => {
            const r = await request<JobView>(`${c.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
            return r.status < 500 && isTerminal(r.body.status) ? r : undefined;
          },
          { timeoutMs: Math.max(1, deadline - Date.now()), everyMs: 200, what: `job ${job.id} terminal` },
        ).catch(() => ({ body: { status: "lost" } as unknown as JobView }));
        finals.push(reply.body);
      }
      const byStatus: Record<string, number> = {};
      for (const v of finals) byStatus[v.status] = (byStatus[v.status] ?? 0) + 1;
      expect(byStatus, JSON.stringify({ byStatus, refused })).to.deep.equal({ succeeded: accepted.length });

      // The long job was handed back by a stopping worker (and taken up again).
      const handedBack = c.workers.some((w) =>
        w
          .output()
          .split("\n")
          .some((line) => line.includes("job aborted by shutdown") && line.includes(watched.id)),
      );
      expect(handedBack, "a worker log says it handed the long job back").to.equal(true);
      const cancel = await request<JobView>(`${c.baseUrl}/jobs/${watched.id}`, {
        method: "DELETE",
        headers: bearer(watched.token),
      });
      expect(cancel.status).to.equal(202, "still running after every restart: the cancel is requested");
      const end = await watch.done.then(
        () => null,
        (e: unknown) => e,
      );
      expect(end).to.be.instanceOf(JobFailedError);
      expect((end as JobFailedError).job.status).to.equal("canceled");
    } finally {
      stop = true;
      watcher.close();
    }
  });
});
