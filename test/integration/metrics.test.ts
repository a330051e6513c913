// Issue 11 "For operators", metrics: GET /metrics on the API, the worker's own on
// WORKER_METRICS_PORT, and the Grafana dashboard's queries against both. Real brokers, real HTTP,
// an in-process stack (test/helpers/stack.ts) and real processes (test/helpers/cluster.ts).
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { metricNames } from "../../shared/observability/metrics.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { type Cluster, freePort, startCluster } from "../helpers/cluster.ts";
import { Gate } from "../helpers/gate.ts";
import { bearer, pollToEnd, request, submit, waitForStatus } from "../helpers/http.ts";
import { parseMetrics, type Scrape, scrape } from "../helpers/metrics.ts";
import { pollUntil } from "../helpers/net.ts";
import { connectSocket } from "../helpers/realtime.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
const DEADLINE = 20_000;

describe("issue 11 metrics: GET /metrics on the API and the worker's counters (in-process stack)", function () {
  this.timeout(60_000);
  const gate = new Gate();
  let stack: Stack | undefined;
  const s = () => {
    if (!stack) throw new Error("no stack");
    return stack;
  };
  const api = () => scrape(`${s().baseUrl}/metrics`);
  const worker = async (): Promise<Scrape> => {
    const w = s().workers[0];
    if (!w) throw new Error("no worker");
    return parseMetrics(await w.metrics.registry.metrics());
  };
  /** The stack starts without a worker (see before()); the first test that needs one adds it. */
  const ensureWorker = async () => {
    if (s().workers.length === 0) await s().addWorker();
  };
  /** Waits (bounded) until `read` reaches `want`, then returns what it read: a value past `want` fails. */
  const settlesAt = async (what: string, read: () => Promise<number>, want: number): Promise<number> => {
    await pollUntil(async () => (await read()) >= want, { timeoutMs: DEADLINE, what }).catch(() => undefined);
    return read();
  };

  before(async () => {
    // No worker at first: a job submitted now stays queued, so its cancel is the API's commit.
    stack = await startStack({ workers: 0, handlers: registry([demoHandler, gate.handler]), env: { ...noLimits } });
  });
  after(async () => {
    await stack?.close();
  });

  it("answers Prometheus text in prom-client's content type, which a parser reads, with every API metric", async () => {
    const reply = await api();
    expect(reply.contentType).to.equal(PROMETHEUS_TEXT);
    const names = reply.families.map((f) => f.name);
    for (const name of [
      metricNames.accepted,
      metricNames.canceled,
      metricNames.queueDepth,
      metricNames.sockets,
      metricNames.sseStreams,
      metricNames.longPolls,
      metricNames.notificationDelay,
      metricNames.brokerReconnects,
    ]) {
      expect(names, name).to.include(name);
    }
    expect(reply.families.find((f) => f.name === metricNames.notificationDelay)?.type).to.equal("histogram");
    expect(reply.value(metricNames.brokerReconnects, { broker: "rabbitmq" })).to.equal(0);
    // The reader is strict: what it accepted above is well-formed text.
    expect(() => parseMetrics("# TYPE herald_x counter\nherald_x{a=b} 1\n")).to.throw(/bad labels/);
    expect(() => parseMetrics("herald_undeclared 1\n")).to.throw(/no declared family/);
  });

  it("job counters by type move by exactly the jobs' outcomes; attempt and queue-wait histograms count each attempt", async () => {
    const before = await api();
    // Queued with no worker: the queue-depth gauge sees it, and DELETE cancels it in the API.
    const queued = await submit(s().baseUrl, "demo", { steps: 1, stepMs: 0 });
    const depth = await pollUntil(async () => (await api()).value(metricNames.queueDepth) >= 1 || undefined, {
      timeoutMs: DEADLINE,
      what: "queue depth ≥ 1",
    });
    expect(depth).to.equal(true);
    const canceled = await request(`${s().baseUrl}/jobs/${queued.id}`, {
      method: "DELETE",
      headers: bearer(queued.token),
    });
    expect(canceled.status).to.equal(200);

    await ensureWorker();
    const w0 = await worker();
    const jobs: AcceptedJob[] = [
      await submit(s().baseUrl, "demo", { steps: 1, stepMs: 0 }), // succeeded
      await submit(s().baseUrl, "demo", { steps: 1, stepMs: 0 }), // succeeded
      await submit(s().baseUrl, "demo", { steps: 2, stepMs: 0, fail: "boom" }), // failed for good
      await submit(s().baseUrl, "demo", { steps: 2, stepMs: 0, failAttempts: 1 }), // 1 retry, then succeeded
      await submit(s().baseUrl, "demo", { steps: 2, stepMs: 0, failAttempts: 5 }), // 2 retries, then failed (3 attempts)
    ];
    const running = await submit(s().baseUrl, "gated", {});
    await gate.started(running.id);
    const del = await request(`${s().baseUrl}/jobs/${running.id}`, {
      method: "DELETE",
      headers: bearer(running.token),
    });
    expect(del.status).to.equal(202);

    const ends = await Promise.all([...jobs, running].map((j) => pollToEnd(s().baseUrl, j, { timeoutMs: DEADLINE })));
    expect(ends.map((e) => e.at(-1)?.body.status)).to.deep.equal([
      "succeeded",
      "succeeded",
      "failed",
      "succeeded",
      "failed",
      "canceled",
    ]);

    const moved = async (from: Scrape, read: () => Promise<Scrape>, name: string, type: string, want: number) =>
      (await settlesAt(
        `${name}{type=${type}}`,
        async () => (await read()).value(name, { type }),
        from.value(name, { type }) + want,
      )) - from.value(name, { type });

    // The API counts what it commits: accepted (7 submits) and the queued job's cancel.
    expect(await moved(before, api, metricNames.accepted, "demo", 6)).to.equal(6);
    expect(await moved(before, api, metricNames.accepted, "gated", 1)).to.equal(1);
    expect(await moved(before, api, metricNames.canceled, "demo", 1)).to.equal(1);
    // The worker counts the endings it commits.
    expect(await moved(w0, worker, metricNames.succeeded, "demo", 3)).to.equal(3);
    expect(await moved(w0, worker, metricNames.failed, "demo", 2)).to.equal(2);
    expect(await moved(w0, worker, metricNames.retried, "demo", 3)).to.equal(3);
    expect(await moved(w0, worker, metricNames.deadLettered, "demo", 2)).to.equal(2);
    expect(await moved(w0, worker, metricNames.canceled, "gated", 1)).to.equal(1);
    // The canceled queued job's message was skipped (acked), not run, not counted again.
    expect(await moved(w0, worker, metricNames.canceled, "demo", 0)).to.equal(0);

    const after = await worker();
    // Attempts: 2 + 1 + 2 + 3 demo (1 + 1 + 3 of them failed), 1 gated.
    expect(after.count(metricNames.attemptDuration, { type: "demo" })).to.equal(8);
    expect(after.count(metricNames.attemptDuration, { type: "demo", outcome: "failed" })).to.equal(5);
    expect(after.count(metricNames.attemptDuration, { type: "gated", outcome: "canceled" })).to.equal(1);
    expect(after.count(metricNames.queueWait, { type: "demo" })).to.equal(8);
    expect(after.count(metricNames.queueWait, { type: "gated" })).to.equal(1);
    // The API emitted the cancel it committed (and measured commit → emit).
    expect((await api()).count(metricNames.notificationDelay)).to.be.at.least(1);
  });

  it("a connected socket, an open SSE stream and a held long poll show in the gauges while open, and go back down after", async () => {
    const base = await api();
    const gauge = async (name: string) => (await api()).value(name);
    const reaches = (name: string, want: number) =>
      pollUntil(async () => (await gauge(name)) === want, { timeoutMs: DEADLINE, what: `${name} = ${want}` });

    await ensureWorker();
    const job = await submit(s().baseUrl, "gated", {});
    await gate.started(job.id);

    const socket = await connectSocket(s().baseUrl);
    try {
      await reaches(metricNames.sockets, base.value(metricNames.sockets) + 1);
    } finally {
      socket.close();
    }
    await reaches(metricNames.sockets, base.value(metricNames.sockets));

    const sse = new AbortController();
    const stream = await fetch(`${s().baseUrl}/jobs/${job.id}/events`, {
      headers: { accept: "text/event-stream", ...bearer(job.token) },
      signal: sse.signal,
    });
    expect(stream.status).to.equal(200);
    await reaches(metricNames.sseStreams, base.value(metricNames.sseStreams) + 1);
    sse.abort();
    await stream.body?.cancel().catch(() => undefined);
    await reaches(metricNames.sseStreams, base.value(metricNames.sseStreams));

    const seen = await waitForStatus(s().baseUrl, job, (r) => r.body.status === "running");
    const etag = seen.headers.get("etag") ?? "";
    const held = request(`${s().baseUrl}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), "if-none-match": etag, prefer: "wait=30" },
    });
    await reaches(metricNames.longPolls, base.value(metricNames.longPolls) + 1);
    gate.progress(job.id, 50); // the change the long poll waits for
    expect((await held).status).to.equal(200);
    await reaches(metricNames.longPolls, base.value(metricNames.longPolls));

    gate.finish(job.id);
    await pollToEnd(s().baseUrl, job, { timeoutMs: DEADLINE });
  });
});

describe("issue 11 metrics: a worker process serves its own /metrics on WORKER_METRICS_PORT; the dashboard's queries exist", function () {
  this.timeout(90_000);
  let cluster: Cluster | undefined;
  let metricsPort = 0;
  // The worker reaches both brokers through TCP proxies, so a test can cut its links.
  let rabbitLink: TcpProxy | undefined;
  let redisLink: TcpProxy | undefined;

  before(async () => {
    metricsPort = await freePort();
    rabbitLink = await startTcpProxy({ port: 5672 });
    redisLink = await startTcpProxy({ port: 6379 });
    cluster = await startCluster({
      apis: 1,
      workers: 1,
      env: { ...noLimits },
      workerEnv: {
        WORKER_METRICS_PORT: String(metricsPort),
        AMQP_URL: `amqp://guest:guest@127.0.0.1:${rabbitLink.port}`,
        REDIS_URL: `redis://127.0.0.1:${redisLink.port}`,
      },
    });
  });
  after(async () => {
    await cluster?.stop();
    await rabbitLink?.close();
    await redisLink?.close();
  });

  it("WORKER_METRICS_PORT is off unless set", () => {
    expect(loadConfig({}).workerMetricsPort).to.equal(null);
    expect(loadConfig({ WORKER_METRICS_PORT: "9464" }).workerMetricsPort).to.equal(9464);
    expect(() => loadConfig({ WORKER_METRICS_PORT: "0" })).to.throw(/WORKER_METRICS_PORT/);
  });

  it("counts a job the worker process ran, in prom-client's content type", async () => {
    if (!cluster) throw new Error("no cluster");
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const before = await scrape(url);
    expect(before.contentType).to.equal(PROMETHEUS_TEXT);
    const job = await submit(cluster.baseUrl, "demo", { steps: 2, stepMs: 0 });
    const end = await pollToEnd(cluster.baseUrl, job, { timeoutMs: DEADLINE });
    expect(end.at(-1)?.body.status).to.equal("succeeded");
    await pollUntil(async () => (await scrape(url)).value(metricNames.succeeded, { type: "demo" }) >= 1, {
      timeoutMs: DEADLINE,
      what: "the worker's succeeded counter",
    });
    const after = await scrape(url);
    expect(
      after.value(metricNames.succeeded, { type: "demo" }) - before.value(metricNames.succeeded, { type: "demo" }),
    ).to.equal(1);
    expect(after.count(metricNames.attemptDuration, { type: "demo", outcome: "succeeded" })).to.equal(1);
    expect(after.count(metricNames.queueWait, { type: "demo" })).to.equal(1);
    // running, two progress reports, succeeded: each emitted after its commit.
    expect(after.count(metricNames.notificationDelay)).to.be.at.least(4);
    expect(after.value(metricNames.brokerReconnects, { broker: "redis" })).to.equal(0);
    const other = await fetch(`http://127.0.0.1:${metricsPort}/jobs`);
    expect(other.status).to.equal(404);
  });

  it("every metric the Grafana dashboard queries is in the API's or the worker's /metrics", async () => {
    if (!cluster) throw new Error("no cluster");
    const api = cluster.apis[0];
    if (!api) throw new Error("no API");
    const exposed = new Set<string>();
    for (const reply of [await scrape(`${api.url}/metrics`), await scrape(`http://127.0.0.1:${metricsPort}/metrics`)]) {
      for (const f of reply.families) {
        exposed.add(f.name);
        if (f.type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exposed.add(f.name + s);
      }
    }
    const dashboard = JSON.parse(readFileSync(new URL("../../deploy/grafana-dashboard.json", import.meta.url), "utf8"));
    const exprs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          if (k === "expr" && typeof v === "string") exprs.push(v);
          else walk(v);
        }
      }
    };
    walk(dashboard);
    expect(exprs.length).to.be.at.least(8);
    const queried = new Set(exprs.flatMap((e) => e.match(/\bherald_[a-z_]+/g) ?? []));
    // Every Herald metric is on the dashboard, and every name it queries exists.
    for (const name of Object.values(metricNames)) {
      expect(
        [...queried].some((q) => q.startsWith(name)),
        `${name} on the dashboard`,
      ).to.equal(true);
    }
    for (const name of queried) expect(exposed.has(name), `${name} in /metrics`).to.equal(true);
  });

  it("counts each restored broker connection of the worker: one RabbitMQ, two Redis (store and control)", async () => {
    if (!rabbitLink || !redisLink) throw new Error("no proxies");
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const before = await scrape(url);
    expect(before.value(metricNames.brokerReconnects, { broker: "rabbitmq" })).to.equal(0);
    expect(before.value(metricNames.brokerReconnects, { broker: "redis" })).to.equal(0);
    await Promise.all([rabbitLink.cut(), redisLink.cut()]);
    rabbitLink.resume();
    redisLink.resume();
    const reconnects = (broker: string) => async () =>
      (await scrape(url)).value(metricNames.brokerReconnects, { broker });
    await pollUntil(async () => (await reconnects("rabbitmq")()) >= 1 && (await reconnects("redis")()) >= 2, {
      timeoutMs: 30_000,
      what: "the worker's reconnects counted",
    });
    expect(await reconnects("rabbitmq")()).to.equal(1);
    expect(await reconnects("redis")()).to.equal(2);
  });
});
