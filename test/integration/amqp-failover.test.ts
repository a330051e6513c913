// Issue 8: a queue adapter given several RabbitMQ nodes connects to the first that answers and,
// when its node goes, moves to the next one, declaring topology and consumer again. Two TCP
// proxies in front of the shared broker stand in for two nodes (cutting one is losing that node),
// and a closed port for a node that is down. The real cluster: test/faults/clusters.test.ts.
import { expect } from "chai";
import type { JobMessage } from "../../shared/jobs/schemas.ts";
import { allExchanges, allQueues } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { names } from "../../shared/store/names.ts";
import { freePort, pollUntil } from "../helpers/net.ts";
import { AMQP_URL, log, randomNamespace } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

describe("integration: AMQP_URL with several nodes (failover in the queue adapter)", function () {
  this.timeout(60_000);
  const n = names(randomNamespace("failover"));
  const broker = new URL(AMQP_URL);
  const proxies: TcpProxy[] = [];
  let queue: RabbitJobQueue | undefined;

  after(async () => {
    await queue?.close();
    for (const p of proxies) await p.close();
    const cleanup = await RabbitJobQueue.connect({
      url: AMQP_URL,
      names: n,
      log,
      connectTimeoutMs: 5_000,
      publishTimeoutMs: 2_000,
    });
    await cleanup.withChannel(async (ch) => {
      for (const q of allQueues(n)) await ch.deleteQueue(q);
      for (const e of allExchanges(n)) await ch.deleteExchange(e);
    });
    await cleanup.close();
  });

  it("skips a node that is down, moves off a lost node to the next (the lost one last), and keeps consuming", async () => {
    const nodeUrl = (port: number) => {
      const u = new URL(AMQP_URL);
      u.port = String(port);
      return u.href;
    };
    const down = nodeUrl(await freePort()); // nothing listens there
    for (let i = 0; i < 2; i++) proxies.push(await startTcpProxy({ port: Number(broker.port || 5672) }));
    const [a, b] = proxies;
    if (!a || !b) throw new Error("two proxies");
    const redacted = (port: number) => nodeUrl(port).replace(/:[^:@/]*@/, ":***@");

    queue = await RabbitJobQueue.connect({
      url: [down, nodeUrl(a.port), nodeUrl(b.port)],
      names: n,
      log,
      connectTimeoutMs: 10_000,
      publishTimeoutMs: 2_000,
    });
    expect(queue.connectedUrl()).to.equal(redacted(a.port));
    const received: string[] = [];
    await queue.consume(async (d) => {
      received.push((JSON.parse(d.body.toString()) as JobMessage).jobId);
      d.ack();
    }, 4);
    const roundTrip = async () => {
      const jobId = crypto.randomUUID();
      await pollUntil(
        () => (queue as RabbitJobQueue).publish({ v: 1, jobId, type: "t", payload: {} }).then(() => true),
        {
          timeoutMs: 15_000,
          what: "a confirmed publish",
        },
      );
      await pollUntil(() => received.includes(jobId), { timeoutMs: 15_000, what: `${jobId} consumed` });
    };
    await roundTrip();

    // A's connection drops and A answers again at once: the lost node is tried last, so it goes to B.
    await a.cut();
    a.resume();
    await pollUntil(() => queue?.connectedUrl() === redacted(b.port), { timeoutMs: 20_000, what: "moved to B" });
    await roundTrip();

    await b.cut(); // B is gone: after B comes the down node, then A
    await pollUntil(() => queue?.connectedUrl() === redacted(a.port), { timeoutMs: 20_000, what: "moved to A" });
    await roundTrip();
    // At least once: an ack in flight when a link was cut brings its message back once more.
    expect(new Set(received).size).to.equal(3);
  });

  it("consumes again after RabbitMQ cancelled the consumer, once the queue is back (retrying meanwhile)", async () => {
    const cancelled = names(randomNamespace("cancel"));
    const opts = { url: AMQP_URL, names: cancelled, log, connectTimeoutMs: 5_000, publishTimeoutMs: 2_000 };
    const consumer = await RabbitJobQueue.connect(opts);
    try {
      const received: string[] = [];
      await consumer.consume(async (d) => {
        received.push((JSON.parse(d.body.toString()) as JobMessage).jobId);
        d.ack();
      }, 1);
      // The queue vanishes (the broker cancels the consumer) and comes back 2 s later, declared by
      // another process: the consumer's first tries fail, a later one must succeed.
      await consumer.withChannel((ch) => ch.deleteQueue(cancelled.jobsQueue));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const publisher = await RabbitJobQueue.connect(opts);
      try {
        const jobId = crypto.randomUUID();
        await publisher.publish({ v: 1, jobId, type: "t", payload: {} });
        await pollUntil(() => received.includes(jobId), { timeoutMs: 20_000, what: "consumed after the cancel" });
      } finally {
        await publisher.close();
      }
    } finally {
      await consumer.withChannel(async (ch) => {
        for (const q of allQueues(cancelled)) await ch.deleteQueue(q);
        for (const e of allExchanges(cancelled)) await ch.deleteExchange(e);
      });
      await consumer.close();
    }
  });
});
