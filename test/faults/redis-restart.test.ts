// Issue 4, faults: Redis (the job state) dies with SIGKILL while a job runs, and comes back on the
// same port and data dir. A PRIVATE redis-server with AOF (fsync always) stands in for it; the
// API and worker processes point at it. The job's state survives, the client still gets the
// terminal state, and both processes recover on their own.
import { expect } from "chai";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { bearer, getStatus, postJob, request, submit } from "../helpers/http.ts";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.ts";
import { awaitTerminal } from "../helpers/soak.ts";

interface ProblemBody {
  type: string;
  status: number;
}

describe("faults: Redis killed (-9) mid-job and restarted", function () {
  this.timeout(60_000);
  let redis: PrivateRedis;
  let cluster: Cluster;

  before(async () => {
    redis = await startPrivateRedis();
    cluster = await startCluster({ apis: 1, workers: 1, env: { REDIS_URL: redis.url, LEASE_MS: "1500" } });
  });
  after(async () => {
    await cluster?.stop();
    await redis?.stop();
  });

  it("the running job's state survives, it ends succeeded, and API and worker recover without a restart", async () => {
    const api = cluster.apis[0];
    const worker = cluster.workers[0];
    if (!api || !worker) throw new Error("one API and one worker expected");
    const pids = [api.process.pid, worker.process.pid];

    const job: AcceptedJob = await submit(cluster.baseUrl, "demo", { steps: 5, stepMs: 100 });
    const running = await pollUntil(
      async () => {
        const r = await getStatus(cluster.baseUrl, job);
        return r.body.status === "running" && r.body.progress.percent > 0 ? r.body : null;
      },
      { timeoutMs: 10_000, what: "the job running" },
    );

    await redis.kill();
    // Down: the API says so (not ready, 503 store-unavailable), fast, for reads and submits.
    await pollUntil(async () => (await request(`${api.url}/readyz`)).status === 503, {
      timeoutMs: 10_000,
      what: "/readyz answering 503",
    });
    const ready = await request<{ checks: Record<string, boolean> }>(`${api.url}/readyz`);
    expect(ready.body.checks.redis).to.equal(false);
    const read = await getStatus(cluster.baseUrl, job);
    expect(read.status).to.equal(503);
    expect((read.body as unknown as ProblemBody).type).to.equal("urn:herald:problem:store-unavailable");
    const post = await postJob(cluster.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } });
    expect(post.status).to.equal(503);
    expect((post.body as ProblemBody).type).to.equal("urn:herald:problem:store-unavailable");
    // Keep Redis down until the handler has finished and its final commit failed: the worst moment.
    await pollUntil(() => worker.output().includes('"msg":"final write failed; retrying until Redis is back"'), {
      timeoutMs: 10_000,
      what: "the worker failing to commit the job's end",
    });

    await redis.start(); // same port, same dir: the AOF is replayed
    await pollUntil(async () => (await request(`${api.url}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      what: "/readyz answering 200 again",
    });
    const end = (await awaitTerminal(cluster.baseUrl, [job], { deadlineMs: 20_000 })).get(job.id);
    expect(end?.kind, "the job ends").to.equal("terminal");
    const view = (end as { view: JobView }).view;
    expect(view.status).to.equal("succeeded");
    expect(view.createdAt).to.equal(running.createdAt, "the same record, restored from the AOF");
    expect(view.version).to.be.above(running.version);
    const result = await request(`${cluster.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
    expect(result.body).to.deep.equal({ steps: 5 });
    expect(view.attempts, "the outcome was kept through the outage, not run again").to.equal(1);

    // Both processes recovered by themselves: a new job runs end to end.
    const next = await submit(cluster.baseUrl, "demo", { steps: 2, stepMs: 10 });
    const nextEnd = (await awaitTerminal(cluster.baseUrl, [next], { deadlineMs: 15_000 })).get(next.id);
    expect((nextEnd as { view?: JobView }).view?.status).to.equal("succeeded");
    expect([api.process.pid, worker.process.pid]).to.deep.equal(pids, "no restart");
    expect(api.alive && worker.alive).to.equal(true);
    expect(redis.output()).to.match(/DB loaded from append only file|Reading RDB base file|AOF loaded/i);
  });
});
