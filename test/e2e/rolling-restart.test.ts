// Graceful shutdown with real processes behind nginx: every API and worker is restarted in turn
// (SIGTERM, exit 0, start again) while clients keep submitting and watching. No accepted job is
// lost; workers hand back what they could not finish in their grace period; a held long poll is
// answered at once when its instance stops.
import { expect } from "chai";
import { HeraldClient } from "../../shared/client/index.ts";
import { connectRedis } from "../../shared/redis-connect.ts";
import type { JobView } from "../../shared/schemas.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { bearer, postJob, request, submit } from "../helpers/http.ts";
import { log, REDIS_URL } from "../helpers/stack.ts";

describe("e2e: rolling restart behind nginx", function () {
  this.timeout(120_000);
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({
      apis: 2,
      workers: 2,
      workerEnv: { SHUTDOWN_GRACE_MS: "300", WORKER_PREFETCH: "2" },
      apiEnv: { SHUTDOWN_GRACE_MS: "2000" },
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("a held long poll is answered at once when its instance shuts down", async () => {
    const api = cluster.apis[0];
    if (!api) throw new Error("no api");
    const job = await submit(api.url, "demo", { steps: 1, stepMs: 20_000 });
    const first = await request(`${api.url}/jobs/${job.id}`, { headers: bearer(job.token) });
    const started = Date.now();
    const held = request(`${api.url}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), "if-none-match": first.headers.get("etag") ?? "", prefer: "wait=30" },
    });
    // The held request subscribes to the job's changes channel: once Redis counts a subscriber,
    // the request is waiting.
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    try {
      const channel = cluster.names.jobChangesChannel(job.id);
      await pollUntil(async () => ((await redis.pubSubNumSub(channel))[channel] ?? 0) > 0, {
        timeoutMs: 5_000,
        what: "the long poll to be waiting",
      });
    } finally {
      await redis.close();
    }
    const exit = api.kill("SIGTERM");
    const reply = await held;
    expect(reply.status).to.be.oneOf([200, 304]);
    expect(Date.now() - started).to.be.below(5_000);
    expect((await exit).code).to.equal(0);
    await api.restart();
    await request(`${cluster.baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
  });

  it("restarting every API and worker in turn loses no accepted job", async () => {
    const accepted: { id: string; token: string }[] = [];
    let refused = 0;
    let stop = false;
    // Clients keep submitting through nginx; a refused or broken submit is retried (it was not accepted).
    const submitter = (async () => {
      while (!stop) {
        try {
          const r = await postJob(cluster.baseUrl, { type: "demo", payload: { steps: 4, stepMs: 150 } });
          if (r.status === 202) accepted.push(r.body as { id: string; token: string });
          else refused++;
        } catch {
          refused++;
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const watcher = new HeraldClient({
      baseUrl: cluster.baseUrl,
      socket: { socketOptions: { transports: ["websocket"] } },
    });
    try {
      const watched = await watcher.submit("demo", { steps: 20, stepMs: 250 });
      const watch = watcher.watch(watched);
      const exits = [];
      for (const p of [...cluster.workers, ...cluster.apis]) {
        await new Promise((r) => setTimeout(r, 500)); // pacing: let jobs flow between restarts
        exits.push({ id: p.id, exit: await p.kill("SIGTERM") });
        await p.restart();
      }
      stop = true;
      await submitter;
      for (const e of exits) expect(e.exit, e.id).to.deep.equal({ code: 0, signal: null });
      expect(accepted.length).to.be.greaterThan(10);

      const finals = await Promise.all(
        accepted.map(async (job) => {
          const deadline = Date.now() + 30_000;
          for (;;) {
            const r = await request<JobView>(`${cluster.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
            if (r.status === 303 || (r.status === 200 && ["failed", "canceled"].includes(r.body.status))) return r.body;
            if (Date.now() > deadline) return r.body;
            await new Promise((res) => setTimeout(res, 200));
          }
        }),
      );
      const byStatus: Record<string, number> = {};
      for (const v of finals) byStatus[v.status] = (byStatus[v.status] ?? 0) + 1;
      expect(byStatus, JSON.stringify({ byStatus, refused })).to.deep.equal({ succeeded: accepted.length });
      // Some job was handed back by a stopping worker and finished by another attempt.
      const handedBack = cluster.workers.some((w) => w.output().includes("job aborted by shutdown; requeueing"));
      expect(handedBack || finals.some((v) => v.attempts > 1)).to.equal(true);
      expect((await watch.done).status).to.equal("succeeded");
    } finally {
      stop = true;
      watcher.close();
    }
  });
});
