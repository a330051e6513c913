// Issue 4, faults: real API and worker processes behind nginx, killed with SIGKILL at the worst
// moments. A worker dies mid-job: the job is taken over by another worker (a new attempt) and
// succeeds. An API dies right after its 202: the job was durably handed off before the 202, so it
// runs and any other instance serves its status and result.
import { expect } from "chai";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { bearer, getStatus, postJob, request } from "../helpers/http.ts";
import { completionsInLogs, type JobHistory, watchJobHistory } from "../helpers/job-history.ts";
import { REDIS_URL } from "../helpers/stack.ts";

const LEASE_MS = 1_500;

describe("faults: kill -9 of a worker or an API instance", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let history: JobHistory;

  before(async () => {
    cluster = await startCluster({
      apis: 2,
      workers: 2,
      // A short lease, so a dead worker's job is taken over within seconds (not the default 30 s).
      env: { LEASE_MS: String(LEASE_MS), RATE_LIMIT_READ_PER_MINUTE: "0" },
    });
    history = await watchJobHistory(REDIS_URL, cluster.names);
  });
  after(async () => {
    await history?.close();
    await cluster?.stop();
  });

  it("a worker killed mid-job: the job succeeds on the other worker, as attempt 2", async () => {
    const [first, second] = cluster.workers;
    if (!first || !second) throw new Error("two workers expected");
    // Only the first worker consumes while the job starts, so we know who runs it.
    await second.stop();
    const reply = await postJob(cluster.baseUrl, { type: "demo", payload: { steps: 60, stepMs: 100 } });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(202);
    const job = reply.body as AcceptedJob;
    await pollUntil(async () => (await getStatus(cluster.baseUrl, job)).body.progress.percent > 0, {
      timeoutMs: 10_000,
      what: "the job making progress on the first worker",
    });
    await second.restart();
    const before = await getStatus(cluster.baseUrl, job);
    expect(before.body.status).to.equal("running", "still running when its worker is killed");
    expect(before.body.attempts).to.equal(1);

    const exit = await first.kill("SIGKILL");
    expect(exit.signal).to.equal("SIGKILL");

    const end = await pollUntil(
      async () => {
        const r = await getStatus(cluster.baseUrl, job);
        return ["succeeded", "failed", "canceled"].includes(r.body.status) ? r : undefined;
      },
      { timeoutMs: 25_000, everyMs: 100, what: `job ${job.id} ending` },
    );
    expect(end.status, JSON.stringify(end.body)).to.equal(303);
    expect(end.body.status).to.equal("succeeded");
    expect(end.body.attempts).to.be.at.least(2);
    const result = await request(`${cluster.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
    expect(result.body).to.deep.equal({ steps: 60 });
    expect(history.runningAttempts(job.id)).to.deep.equal([1, 2]);
    expect(history.succeededCommits(job.id)).to.equal(1);
    expect(completionsInLogs([second.output()]).get(job.id)).to.equal(1, "the second worker finished it");
    expect(completionsInLogs([first.output()]).get(job.id)).to.equal(undefined, "the killed worker did not");
    await first.restart();
  });

  it("an API killed right after its 202s: every accepted job succeeds and the other instance serves it", async () => {
    const [victim, survivor] = cluster.apis;
    if (!victim || !survivor) throw new Error("two APIs expected");
    // Straight at the victim (not through nginx), several at once; SIGKILL on the first 202.
    const accepted: AcceptedJob[] = [];
    let killed: Promise<unknown> | undefined;
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        postJob(victim.url, { type: "demo", payload: { steps: 2, stepMs: 50 + i } }).then(
          (r) => {
            if (r.status === 202) {
              accepted.push(r.body as AcceptedJob);
              killed ??= victim.kill("SIGKILL");
            }
            return r.status;
          },
          () => "connection lost",
        ),
      ),
    );
    await killed;
    expect(victim.alive).to.equal(false);
    expect(accepted.length, `outcomes: ${outcomes.join(", ")}`).to.be.at.least(1);
    for (const o of outcomes) expect([202, "connection lost"]).to.include(o);

    for (const job of accepted) {
      const end = await pollUntil(
        async () => {
          const r = await getStatus(survivor.url, job);
          return r.status === 303 ? r : undefined;
        },
        { timeoutMs: 15_000, what: `job ${job.id} succeeding, seen from ${survivor.id}` },
      );
      expect(end.headers.get("x-herald-instance")).to.equal(survivor.id);
      expect((end.body as JobView).status).to.equal("succeeded");
      const result = await request(`${survivor.url}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.status).to.equal(200);
      expect((result.body as { steps: number }).steps).to.equal(2);
      expect(history.succeededCommits(job.id)).to.equal(1);
    }
    // Through nginx too, with the victim still down.
    const first = accepted[0] as AcceptedJob;
    expect((await getStatus(cluster.baseUrl, first)).status).to.equal(303);
    await victim.restart();
    expect((await request(`${victim.url}/readyz`)).status).to.equal(200);
    expect((await getStatus(victim.url, first)).status).to.equal(303, "the restarted instance serves it too");
  });
});
