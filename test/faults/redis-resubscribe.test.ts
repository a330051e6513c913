// Issue 7 item 9: a Redis subscription that failed, or that Redis lost, must not leave a dead
// listener. Against a PRIVATE Redis (killed with SIGKILL and restarted on the same port):
// - RedisJobChanges: a watch() while Redis is down rejects and leaves nothing behind, so the next
//   watch() of that job subscribes again; a watch() that outlives a restart is resubscribed.
// - RedisJobControlSubscriber: onCancel() while Redis is down waits for it instead of failing; a
//   subscription that outlives a restart receives cancels again, and onResubscribed says so.
// - One API instance whose change subscriber lost its link (a TCP proxy cuts only that one): a
//   long poll or SSE stream that could not subscribe answers 503, and the next one on the same job
//   gets the next change.
// - Real API and worker processes: after a kill -9 and restart, an SSE stream opened before it gets
//   the next changes, and a cancel reaches the worker.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import amqp from "amqplib";
import { expect } from "chai";
import { type ApiServer, startApiServer } from "../../services/api/server.ts";
import { SseParser } from "../../shared/client/sse-parser.ts";
import { announcedTransition } from "../../shared/events/announced-transition.ts";
import { RedisJobChanges } from "../../shared/events/redis-job-changes.ts";
import { RedisJobControlPublisher, RedisJobControlSubscriber } from "../../shared/events/redis-job-control.ts";
import { jobEventMessage, SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { toView } from "../../shared/jobs/job-view.ts";
import type { AcceptedJob, JobRecord, JobView } from "../../shared/jobs/schemas.ts";
import { createLogger } from "../../shared/observability/log.ts";
import { allExchanges, allQueues } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { type Names, names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { bearer, getStatus, request, submit } from "../helpers/http.ts";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.ts";
import { readSse } from "../helpers/realtime.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const log = createLogger((process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "silent");
const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const freshNames = (): Names => names(`resub-${randomBytes(6).toString("hex")}`);

/** How many connections Redis says are subscribed to the sharded `channel` (a job's events). */
async function shardSubscribers(redis: RedisClient, channel: string): Promise<number> {
  const counts = await redis.pubSubShardNumSub(channel);
  return Number(counts[channel] ?? 0);
}

/** The fewest subscribers any shard's control channel (sharded pub/sub) has. */
async function controlSubscribers(redis: RedisClient, n: Names): Promise<number> {
  const counts = await redis.pubSubShardNumSub(n.shards.map((k) => n.controlChannel(k)));
  return Math.min(...n.shards.map((k) => Number(counts[n.controlChannel(k)] ?? 0)));
}

/** Rejects with `what` if `p` has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The job's next version, as a worker or the store script publishes it on its events channel. */
const changed = (n: Names, r: JobRecord, percent: number): Buffer =>
  jobEventMessage(n, toView({ ...r, version: r.version + 1, progress: { percent } }));

async function killAndAwaitDown(redis: PrivateRedis, clients: RedisClient[]): Promise<void> {
  await redis.kill();
  await pollUntil(() => clients.every((c) => !c.isReady), { timeoutMs: 10_000, what: "clients seeing Redis down" });
}

async function restartAndAwaitUp(redis: PrivateRedis, clients: RedisClient[]): Promise<void> {
  await redis.start();
  await pollUntil(() => clients.every((c) => c.isReady), { timeoutMs: 20_000, what: "clients reconnected" });
}

describe("issue 7 item 9: RedisJobChanges and RedisJobControlSubscriber across a Redis kill -9", function () {
  this.timeout(90_000);
  let redis: PrivateRedis | undefined;
  const clients: RedisClient[] = [];
  const connect = async (role: string) => {
    if (!redis) throw new Error("no redis");
    const c = await connectRedis(redis.url, log, 5_000, role);
    clients.push(c);
    return c;
  };

  before(async () => {
    redis = await startPrivateRedis();
  });
  beforeEach(async () => {
    if (redis && !redis.alive) await redis.start(); // a failed test may have left it down
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await redis?.stop();
  });

  it("a watch() while Redis is down rejects and leaves no listener: once Redis is back, the next watch() of that job subscribes again and gets its changes", async () => {
    if (!redis) throw new Error("setup failed");
    const n = freshNames();
    const [sub, pub] = [await connect("changes"), await connect("pub")];
    const changes = new RedisJobChanges(sub, n, log);
    const { record } = newJob("demo");
    const channel = n.jobEventsChannel(record.id);

    await killAndAwaitDown(redis, [sub, pub]);
    const refused: JobView[] = [];
    const failure = await within(
      changes
        .watch(record.id, (r) => refused.push(r))
        .then(
          () => null,
          (err: unknown) => err,
        ),
      10_000,
      "watch() while Redis is down",
    );
    expect(failure, "watch() rejects").to.be.instanceOf(Error);
    // A second watcher of the same job meanwhile must not ride on the failed subscription either.
    const second = await within(
      changes
        .watch(record.id, (r) => refused.push(r))
        .then(
          () => null,
          (err: unknown) => err,
        ),
      10_000,
      "a second watch() while Redis is down",
    );
    expect(second, "the second watch() rejects too").to.be.instanceOf(Error);

    await restartAndAwaitUp(redis, [sub, pub]);
    const seen: JobView[] = [];
    const unwatch = await within(
      changes.watch(record.id, (r) => seen.push(r)),
      10_000,
      "watch() after the restart",
    );
    expect(await shardSubscribers(pub, channel), "subscribed again").to.equal(1);
    await pub.sPublish(channel, changed(n, record, 50));
    await pollUntil(() => seen.length === 1, { timeoutMs: 5_000, what: "the change reaching the new watcher" });
    expect(seen[0]?.version).to.equal(2);
    expect(refused, "the rejected watchers got nothing").to.deep.equal([]);
    await unwatch();
    expect(await shardSubscribers(pub, channel), "unsubscribed").to.equal(0);
  });

  it("a watch() live across a kill -9 and restart is resubscribed (by node-redis) and gets the next change", async () => {
    if (!redis) throw new Error("setup failed");
    const n = freshNames();
    const [sub, pub] = [await connect("changes"), await connect("pub")];
    const changes = new RedisJobChanges(sub, n, log);
    const { record } = newJob("demo");
    const channel = n.jobEventsChannel(record.id);
    const seen: JobView[] = [];
    const unwatch = await changes.watch(record.id, (r) => seen.push(r));

    await killAndAwaitDown(redis, [sub, pub]);
    await restartAndAwaitUp(redis, [sub, pub]);
    // Redis itself says so: the subscription is back, without anyone calling watch() again.
    await pollUntil(async () => (await shardSubscribers(pub, channel)) === 1, {
      timeoutMs: 10_000,
      what: "the subscription restored",
    });
    await pub.sPublish(channel, changed(n, record, 30));
    await pollUntil(() => seen.length === 1, { timeoutMs: 5_000, what: "the change after the restart" });
    await unwatch();
  });

  it("an unwatch() while Redis is down is finished once Redis is back: no subscription is left behind", async () => {
    if (!redis) throw new Error("setup failed");
    const n = freshNames();
    const [sub, pub] = [await connect("changes"), await connect("pub")];
    const changes = new RedisJobChanges(sub, n, log);
    const { record } = newJob("demo");
    const channel = n.jobEventsChannel(record.id);
    const unwatch = await changes.watch(record.id, () => undefined);
    expect(await shardSubscribers(pub, channel)).to.equal(1);

    await killAndAwaitDown(redis, [sub, pub]);
    await within(unwatch(), 10_000, "unwatch() while Redis is down");
    await restartAndAwaitUp(redis, [sub, pub]);
    await pollUntil(async () => (await shardSubscribers(pub, channel)) === 0, {
      timeoutMs: 10_000,
      what: "the job's channel unsubscribed after the restart",
    });
    // And the job can be watched again as usual.
    const seen: JobView[] = [];
    const again = await changes.watch(record.id, (r) => seen.push(r));
    await pub.sPublish(channel, changed(n, record, 10));
    await pollUntil(() => seen.length === 1, { timeoutMs: 5_000, what: "the change to the new watcher" });
    expect(seen).to.have.length(1, "delivered once");
    await again();
  });

  it("onCancel() while Redis is down waits for Redis instead of failing, then receives cancels", async () => {
    if (!redis) throw new Error("setup failed");
    const n = freshNames();
    const [sub, pub] = [await connect("control"), await connect("pub")];
    const control = new RedisJobControlSubscriber(sub, n, log);
    const got: string[] = [];

    await killAndAwaitDown(redis, [sub, pub]);
    let outcome: "pending" | "listening" | Error = "pending";
    const listening = control
      .onCancel((id) => got.push(id))
      .then(
        () => {
          outcome = "listening";
        },
        (err: Error) => {
          outcome = err;
        },
      );
    // node-redis fails a SUBSCRIBE queued while disconnected at its next failed reconnect attempt.
    await within(once(sub, "error"), 15_000, "a failed reconnect attempt");
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcome, "still waiting for Redis").to.equal("pending");

    await restartAndAwaitUp(redis, [sub, pub]);
    await within(listening, 20_000, "onCancel() once Redis is back");
    expect(outcome).to.equal("listening");
    const { record } = newJob("demo");
    await new RedisJobControlPublisher(pub, n).requestCancel(record.id);
    await pollUntil(() => got.includes(record.id), { timeoutMs: 5_000, what: "the cancel reaching the listener" });
  });

  it("a control subscription live across a kill -9 and restart receives the cancels published after it, and onResubscribed fires", async () => {
    if (!redis) throw new Error("setup failed");
    const n = freshNames();
    const [sub, pub] = [await connect("control"), await connect("pub")];
    const control = new RedisJobControlSubscriber(sub, n, log);
    const got: string[] = [];
    let resubscribed = 0;
    control.onResubscribed(() => {
      resubscribed++;
    });
    await control.onCancel((id) => got.push(id));
    expect(resubscribed, "not before any outage").to.equal(0);

    await killAndAwaitDown(redis, [sub, pub]);
    await restartAndAwaitUp(redis, [sub, pub]);
    await pollUntil(() => resubscribed === 1, { timeoutMs: 10_000, what: "onResubscribed" });
    expect(await controlSubscribers(pub, n), "Redis has every shard's subscription back").to.equal(1);
    const { record } = newJob("demo");
    await new RedisJobControlPublisher(pub, n).requestCancel(record.id);
    await pollUntil(() => got.includes(record.id), { timeoutMs: 5_000, what: "the cancel after the restart" });
  });
});

describe("issue 7 item 9: one API instance whose change subscription failed serves the next long poll and SSE stream", function () {
  this.timeout(90_000);
  let redis: PrivateRedis | undefined;
  let link: TcpProxy | undefined;
  let queue: RabbitJobQueue | undefined;
  let api: ApiServer | undefined;
  const n = freshNames();
  const clients: RedisClient[] = [];

  before(async () => {
    redis = await startPrivateRedis();
    // Only the change subscriber goes through the proxy: the store stays reachable while its link is cut.
    link = await startTcpProxy({ port: redis.port });
    const at = async (url: string, role: string) => {
      const c = await connectRedis(url, log, 5_000, role);
      clients.push(c);
      return c;
    };
    const [store, changesSub, adapterPub, adapterSub] = [
      await at(redis.url, "store"),
      await at(`redis://127.0.0.1:${link.port}`, "changes"),
      await at(redis.url, "adapter-pub"),
      await at(redis.url, "adapter-sub"),
    ];
    queue = await RabbitJobQueue.connect({
      url: AMQP_URL,
      names: n,
      log,
      connectTimeoutMs: 5_000,
      publishTimeoutMs: 2_000,
    });
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: "0",
      HERALD_NAMESPACE: n.namespace,
      INSTANCE_ID: "resubscribe-test",
      LONG_POLL_MAX_SECONDS: "60",
      SSE_HEARTBEAT_MS: "600000",
      RATE_LIMIT_READ_PER_MINUTE: "0",
    });
    api = await startApiServer(config, { redis: store, changesSub, adapterPub, adapterSub, queue }, log);
  });
  after(async () => {
    api?.server.closeAllConnections();
    await api?.close();
    await queue?.close();
    for (const c of clients) c.destroy();
    await link?.close();
    await redis?.stop();
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    for (const q of allQueues(n)) await ch.deleteQueue(q);
    for (const e of allExchanges(n)) await ch.deleteExchange(e);
    await conn.close();
  });

  it("the long poll that could not subscribe answers 503; after the link is back a long poll on the same job gets the next change", async () => {
    const [store, changesSub] = clients;
    if (!api || !link || !store || !changesSub) throw new Error("setup failed");
    const base = `http://127.0.0.1:${api.port}`;
    const jobs = new RedisJobStore(store, n, 3600);
    const { record, token } = newJob("demo");
    await jobs.create(record);
    const first = await getStatus(base, { id: record.id, token });
    expect(first.status).to.equal(200);
    const etag = first.headers.get("etag") ?? "";
    const longPoll = () =>
      request<JobView>(`${base}/jobs/${record.id}`, {
        headers: { ...bearer(token), "if-none-match": etag, prefer: "wait=30" },
      });

    await link.cut();
    await pollUntil(() => !changesSub.isReady, { timeoutMs: 10_000, what: "the change subscriber cut off" });
    const refused = await within(longPoll(), 10_000, "the long poll while the change subscriber is down");
    expect(refused.status, JSON.stringify(refused.body)).to.equal(503);

    link.resume();
    await pollUntil(() => changesSub.isReady, { timeoutMs: 20_000, what: "the change subscriber back" });
    const held = longPoll();
    // Redis says the long poll is subscribed: the change below can only reach it through the feed.
    await pollUntil(async () => (await shardSubscribers(store, n.jobEventsChannel(record.id))) === 1, {
      timeoutMs: 10_000,
      what: "the long poll's subscription",
    });
    await announcedTransition(jobs, new SocketIoJobEvents(store, n, log), record.id, () => ({
      progress: { percent: 40 },
    }));
    const answer = await within(held, 10_000, "the held long poll");
    expect(answer.status).to.equal(200);
    expect(answer.body.version).to.equal(2);
    expect(answer.body.progress.percent).to.equal(40);
  });

  it("the SSE stream that could not subscribe answers 503; after the link is back an SSE stream on the same job gets the next change", async () => {
    const [store, changesSub] = clients;
    if (!api || !link || !store || !changesSub) throw new Error("setup failed");
    const url = `http://127.0.0.1:${api.port}/jobs`;
    const jobs = new RedisJobStore(store, n, 3600);
    const { record, token } = newJob("demo");
    await jobs.create(record);

    await link.cut();
    await pollUntil(() => !changesSub.isReady, { timeoutMs: 10_000, what: "the change subscriber cut off" });
    const refused = await within(
      readSse(`${url}/${record.id}/events`, bearer(token), { timeoutMs: 10_000 }),
      15_000,
      "the SSE request while the change subscriber is down",
    );
    expect(refused.status, JSON.stringify(refused.body)).to.equal(503);

    link.resume();
    await pollUntil(() => changesSub.isReady, { timeoutMs: 20_000, what: "the change subscriber back" });
    const reading = readSse(`${url}/${record.id}/events`, bearer(token), { stopAfter: 2, timeoutMs: 20_000 });
    // Subscribed (Redis says so), and the heartbeat that would re-read the store is 10 minutes away.
    await pollUntil(async () => (await shardSubscribers(store, n.jobEventsChannel(record.id))) === 1, {
      timeoutMs: 10_000,
      what: "the SSE stream's subscription",
    });
    await announcedTransition(jobs, new SocketIoJobEvents(store, n, log), record.id, () => ({
      progress: { percent: 60 },
    }));
    const stream = await reading;
    expect(stream.status).to.equal(200);
    expect(stream.events.map((e) => e.view.version)).to.deep.equal([1, 2]);
    expect(stream.events[1]?.view.progress.percent).to.equal(60);
  });
});

describe("issue 7 item 9: real API and worker processes across a Redis kill -9 and restart", function () {
  this.timeout(120_000);
  let redis: PrivateRedis | undefined;
  let cluster: Cluster | undefined;
  let probe: RedisClient | undefined;
  let sseAbort: AbortController | undefined;

  before(async () => {
    redis = await startPrivateRedis();
    cluster = await startCluster({
      apis: 1,
      workers: 1,
      env: {
        REDIS_URL: redis.url,
        // Neither a heartbeat re-read nor a lease renewal may deliver the change or the cancel:
        // only the change feed and the control channel can, within the deadlines below.
        SSE_HEARTBEAT_MS: "600000",
        LEASE_MS: "600000",
        RATE_LIMIT_READ_PER_MINUTE: "0",
      },
    });
    probe = await connectRedis(redis.url, log, 5_000, "probe");
  });
  after(async () => {
    sseAbort?.abort();
    probe?.destroy();
    await cluster?.stop();
    await redis?.stop();
  });

  it("an SSE stream opened before the kill gets the next changes, and a cancel sent after the restart reaches the worker", async () => {
    const api = cluster?.apis[0];
    if (!cluster || !redis || !probe || !api) throw new Error("setup failed");
    // One step of 60 s: no progress write (which would also notice a cancel) for a minute.
    const job: AcceptedJob = await submit(api.url, "demo", { steps: 2, stepMs: 60_000 });
    const running = await pollUntil(
      async () => {
        const r = await getStatus(api.url, job);
        return r.body.status === "running" ? r.body : null;
      },
      { timeoutMs: 15_000, what: "the job running" },
    );

    sseAbort = new AbortController();
    const sse: JobView[] = [];
    const res = await fetch(`${api.url}/jobs/${job.id}/events`, {
      headers: { ...bearer(job.token), accept: "text/event-stream" },
      signal: sseAbort.signal,
    });
    expect(res.status).to.equal(200);
    const reading = (async () => {
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = res.body?.getReader();
      for (;;) {
        const { value, done } = (await reader?.read()) ?? { done: true, value: undefined };
        if (done) return;
        for (const ev of parser.push(decoder.decode(value, { stream: true }))) sse.push(JSON.parse(ev.data));
      }
    })().catch(() => undefined);
    await pollUntil(() => sse.length >= 1, { timeoutMs: 10_000, what: "the SSE stream's first event" });

    await redis.kill();
    await pollUntil(async () => (await request(`${api.url}/readyz`)).status === 503, {
      timeoutMs: 10_000,
      what: "/readyz answering 503",
    });
    await redis.start();
    await pollUntil(async () => (await request(`${api.url}/readyz`)).status === 200, {
      timeoutMs: 20_000,
      what: "/readyz answering 200 again",
    });
    // Both subscriptions are back in Redis, with nobody subscribing anew: node-redis restored them.
    await pollUntil(
      async () => cluster !== undefined && (await controlSubscribers(probe as RedisClient, cluster.names)) >= 1,
      {
        timeoutMs: 15_000,
        what: "the worker's control subscription restored",
      },
    );
    await pollUntil(
      async () => (await shardSubscribers(probe as RedisClient, cluster?.names.jobEventsChannel(job.id) ?? "")) >= 1,
      { timeoutMs: 15_000, what: "the SSE stream's change subscription restored" },
    );

    const cancel = await request(`${api.url}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
    expect(cancel.status, "cancel of a running job").to.equal(202);
    // The worker aborts the handler at once (control channel) and ends the job canceled.
    await pollUntil(() => sse.some((v) => v.status === "canceled"), {
      timeoutMs: 20_000,
      what: "the canceled event on the SSE stream opened before the restart",
    });
    expect(sse[0]?.version).to.equal(running.version);
    sseAbort.abort();
    await reading;
    for (const p of [api, ...cluster.workers]) expect(p.alive, `${p.id} alive`).to.equal(true);
  });
});
