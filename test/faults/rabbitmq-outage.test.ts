// Issue 4, faults: the link to RabbitMQ fails under real API and worker processes. A TCP proxy in
// front of the shared broker (test/helpers/tcp-proxy.ts) cuts it; the broker itself never stops.
// - Cut while jobs flow: submits answer 503 fast and /readyz says not ready; after the link is
//   back, the same processes accept again; every job that got a 202 succeeds exactly once.
// - The broker closing the connection at any point of our setup (the amqplib trap in TRAPS.md):
//   no crash, no hang; each process keeps retrying and becomes ready.
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { type Cluster, pollUntil, type ServiceProcess, startCluster } from "../helpers/cluster.ts";
import { request } from "../helpers/http.ts";
import { completionsInLogs, type JobHistory, watchJobHistory } from "../helpers/job-history.ts";
import { awaitTerminal, startSubmitFlow } from "../helpers/soak.ts";
import { AMQP_URL, REDIS_URL } from "../helpers/stack.ts";
import { type ProxyFault, startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const PUBLISH_TIMEOUT_MS = 1_500;
const broker = new URL(AMQP_URL);

async function proxyToBroker(): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
  const url = new URL(AMQP_URL);
  url.port = String(proxy.port);
  return { proxy, url: url.href };
}

interface Readiness {
  status: string;
  checks: Record<string, boolean>;
}
const readyz = (base: string) => request<Readiness>(`${base}/readyz`);

/** Log lines of a process with this `msg`. */
const logged = (p: ServiceProcess, msg: string): number =>
  p
    .output()
    .split("\n")
    .filter((l) => l.includes(`"msg":"${msg}"`)).length;

/** Nothing in a process's output says it crashed. */
function expectNoCrash(p: ServiceProcess): void {
  expect(p.alive, `${p.id} is alive`).to.equal(true);
  expect(p.output()).to.not.match(/uncaught|unhandled rejection|exited \(code/i, `${p.id} output`);
}

describe("faults: RabbitMQ link cut while jobs flow (TCP proxy)", function () {
  this.timeout(90_000);
  let proxy: TcpProxy;
  let cluster: Cluster;
  let history: JobHistory;

  before(async () => {
    const proxied = await proxyToBroker();
    proxy = proxied.proxy;
    cluster = await startCluster({
      apis: 1,
      workers: 2,
      env: {
        AMQP_URL: proxied.url,
        PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
        LEASE_MS: "1500",
        RATE_LIMIT_SUBMIT_PER_MINUTE: "0",
        RATE_LIMIT_READ_PER_MINUTE: "0",
      },
    });
    history = await watchJobHistory(REDIS_URL, cluster.names);
  });
  after(async () => {
    await history?.close();
    await cluster?.stop();
    await proxy?.close();
  });

  it("503 fast during the cut, 202 again after it without a restart; every 202 succeeds once", async () => {
    const api = cluster.apis[0];
    if (!api) throw new Error("one API expected");
    const pids = [api, ...cluster.workers].map((p) => p.process.pid);
    const flow = startSubmitFlow(cluster.baseUrl, {
      concurrency: 4,
      ratePerSecond: 10,
      retryPauseMs: 50,
      // 2.5 s each: a job that started just before the cut is still running when its message is
      // redelivered (the cut and the reconnect backoff take about a second).
      payload: () => ({ steps: 10, stepMs: 250 }),
    });
    try {
      // Jobs flowing, one just started on a worker when the link goes: it outlives the cut.
      const justStarted = (id: string) => {
        const last = history.latest(id);
        return last?.status === "running" && last.percent <= 20;
      };
      await pollUntil(() => flow.accepted.length >= 6 && flow.accepted.some((j) => justStarted(j.id)), {
        timeoutMs: 15_000,
        what: "jobs accepted, one just started",
      });
      await proxy.cut();
      const cutAt = Date.now();
      const down = await pollUntil(async () => ((await readyz(cluster.baseUrl)).status === 503 ? Date.now() : null), {
        timeoutMs: 5_000,
        what: "/readyz answering 503",
      });
      expect((await readyz(api.url)).body.checks.rabbitmq).to.equal(false);
      // Submits keep coming during the cut: wait for several that started after /readyz said so.
      await pollUntil(() => flow.submissions.filter((s) => s.startedAt > down).length >= 5, {
        timeoutMs: 10_000,
        what: "5 submits during the cut",
      });
      const duringCut = flow.submissions.filter((s) => s.startedAt > down);
      for (const s of duringCut) {
        expect(s.status).to.equal(503);
        expect(s.problemType).to.equal("urn:herald:problem:broker-unavailable");
        expect(s.endedAt - s.startedAt, "refused without waiting for a confirm").to.be.below(1_000);
      }
      // Even a submit caught mid-publish by the cut is answered within the publish timeout.
      const refused = flow.submissions.filter((s) => s.status !== 202 && s.endedAt > cutAt);
      for (const s of refused) {
        expect(s.status).to.equal(503);
        expect(s.endedAt - s.startedAt).to.be.below(PUBLISH_TIMEOUT_MS + 1_000);
      }
      const acceptedBeforeResume = flow.accepted.length;

      proxy.resume();
      const up = await pollUntil(async () => ((await readyz(cluster.baseUrl)).status === 200 ? Date.now() : null), {
        timeoutMs: 15_000,
        what: "/readyz answering 200 again",
      });
      await pollUntil(() => flow.submissions.filter((s) => s.startedAt > up).length >= 5, {
        timeoutMs: 10_000,
        what: "5 submits after the link came back",
      });
      for (const s of flow.submissions.filter((s) => s.startedAt > up)) expect(s.status).to.equal(202);
      expect(flow.accepted.length).to.be.above(acceptedBeforeResume);
    } finally {
      await flow.stop();
    }

    // The same processes, reconnected on their own.
    expect([api, ...cluster.workers].map((p) => p.process.pid)).to.deep.equal(pids);
    for (const p of [api, ...cluster.workers]) {
      expectNoCrash(p);
      expect(logged(p, "lost the RabbitMQ connection; reconnecting"), p.id).to.be.at.least(1);
      expect(logged(p, "connected to RabbitMQ"), p.id).to.be.at.least(2);
    }

    // No accepted job lost or run twice.
    const outcomes = await awaitTerminal(cluster.baseUrl, flow.accepted, { deadlineMs: 30_000 });
    const completions = completionsInLogs(cluster.workers.map((w) => w.output()));
    for (const job of flow.accepted) {
      const o = outcomes.get(job.id);
      expect(o?.kind, `job ${job.id}`).to.equal("terminal");
      expect((o as { view: JobView }).view.status, `job ${job.id}`).to.equal("succeeded");
      expect(history.succeededCommits(job.id), `succeeded commits of ${job.id}`).to.equal(1);
      expect(completions.get(job.id), `completed runs of ${job.id}`).to.equal(1);
    }
    expect(history.disconnects).to.equal(0);
    // The job running through the cut came back as a redelivery while its worker still ran it:
    // it was handed back, not run a second time (the counts above) and not dropped.
    const leased = cluster.workers.map((w) =>
      logged(w, "job is leased by another worker; requeueing its message when the lease is due"),
    );
    expect(
      leased.reduce((a, b) => a + b, 0),
      "redeliveries of a running job",
    ).to.be.at.least(1);
  });
});

describe("faults: RabbitMQ closes the connection during our setup (amqplib trap)", function () {
  this.timeout(90_000);
  let apiLink: TcpProxy;
  let workerLink: TcpProxy;
  let cluster: Cluster;

  // At startup: during the opening handshake (Connection.Start is ~500 bytes) and mid-topology.
  const startupFaults: ProxyFault[] = [{ closeAfterServerBytes: 20 }, { closeAfterServerBytes: 600 }];

  before(async () => {
    const a = await proxyToBroker();
    const w = await proxyToBroker();
    apiLink = a.proxy;
    workerLink = w.proxy;
    apiLink.failNext(startupFaults);
    workerLink.failNext(startupFaults);
    cluster = await startCluster({
      apis: 1,
      workers: 1,
      apiEnv: { AMQP_URL: a.url },
      workerEnv: { AMQP_URL: w.url },
    });
  });
  after(async () => {
    await cluster?.stop();
    await apiLink?.close();
    await workerLink?.close();
  });

  it("at startup: each process retries past the closes and becomes ready", async () => {
    // startCluster waited for /readyz 200 and for the worker's consumer.
    for (const link of [apiLink, workerLink]) {
      expect(link.faultsApplied).to.equal(startupFaults.length);
      expect(link.connections.length).to.equal(startupFaults.length + 1);
      expect(link.connections.filter((c) => c.open)).to.have.length(1, "one live connection at the end");
    }
    for (const p of [...cluster.apis, ...cluster.workers]) {
      expectNoCrash(p);
      expect(logged(p, "cannot reach RabbitMQ"), p.id).to.equal(startupFaults.length);
    }
  });

  it("on reconnect: a close inside each late setup reply, up to the last one, is survived", async () => {
    const api = cluster.apis[0];
    const worker = cluster.workers[0];
    if (!api || !worker) throw new Error("one API and one worker expected");
    const pids = [api.process.pid, worker.process.pid];
    const links = [
      { link: apiLink, p: api },
      { link: workerLink, p: worker },
    ];
    const planned = links.map(({ link, p }) => {
      // The live connection has carried exactly one setup (nothing published or consumed yet),
      // one broker reply per chunk: handshake, declarations, the setup channel's CloseOk (which
      // amqplib's close() waited for forever), and for the worker its consumer's channel, qos and
      // consume replies. Close the next connections inside the first reply, one in the middle and
      // each of the last four, cutting the reply's last byte.
      const chunks = link.connections.at(-1)?.serverChunks ?? [];
      expect(chunks.length, `${p.id} setup replies`).to.be.at.least(12);
      const ends = chunks.map((_, i) => chunks.slice(0, i + 1).reduce((a, b) => a + b, 0));
      const n = ends.length;
      const replies = [1, Math.floor(n / 2), n - 3, n - 2, n - 1, n];
      const faults: ProxyFault[] = replies.map((k) => ({ closeAfterServerBytes: (ends[k - 1] ?? 1) - 1 }));
      link.failNext(faults);
      return { link, p, faults: faults.length, before: link.connections.length };
    });
    await Promise.all(links.map(({ link }) => link.cut()));
    for (const { link } of links) link.resume();
    await Promise.all(
      planned.map(async ({ link, p, faults, before }) => {
        await pollUntil(() => link.faultsApplied === startupFaults.length + faults, {
          timeoutMs: 30_000,
          what: `${p.id} meeting all ${faults} faults`,
        });
        await pollUntil(() => link.connections.slice(before).some((c) => c.open && !c.fault), {
          timeoutMs: 15_000,
          what: `${p.id} connected again`,
        });
      }),
    );
    await pollUntil(async () => (await readyz(api.url)).status === 200, { timeoutMs: 15_000, what: "API ready" });
    expect([api.process.pid, worker.process.pid]).to.deep.equal(pids, "no restart");
    expectNoCrash(api);
    expectNoCrash(worker);
    expect(logged(worker, "RabbitMQ reconnect failed")).to.be.at.least(planned[1]?.faults ?? 0);

    // And it works: a job submitted now runs on the reconnected worker.
    const job = await pollUntil(
      async () => {
        const r = await request<{ id: string; token: string }>(`${cluster.baseUrl}/jobs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ type: "demo", payload: { steps: 2, stepMs: 10 } }),
        });
        return r.status === 202 ? r.body : null;
      },
      { timeoutMs: 10_000, what: "a submit accepted" },
    );
    const end = (await awaitTerminal(cluster.baseUrl, [job], { deadlineMs: 15_000 })).get(job.id);
    expect(end?.kind).to.equal("terminal");
    expect((end as { view: JobView }).view.status).to.equal("succeeded");
  });
});
