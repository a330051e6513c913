// Issue 8, RabbitMQ half: Herald on a private 3-node RabbitMQ cluster with quorum queues (the
// shared Redis). kill -9 of the node 2 APIs (real processes behind nginx) and 2 workers are
// connected to, and of the node leading the jobs queue (an in-process API and 2 workers): every
// job that got 202 ends `succeeded` exactly once, and a subscribed Socket.IO client gets every
// terminal event. Also a poison message reaching the dead-letter queue through the delivery limit,
// and retry tiers on quorum queues. One cluster for the file (~20-40 s to start here).
import { expect } from "chai";
import { type AcceptedJob, isTerminal } from "../../shared/jobs/schemas.ts";
import type { Delivery } from "../../shared/queue/job-queue.ts";
import { allExchanges, allQueues } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { names } from "../../shared/store/names.ts";
import { startCluster } from "../helpers/cluster.ts";
import { getStatus, postJob } from "../helpers/http.ts";
import { watchJobHistory } from "../helpers/job-history.ts";
import { pollUntil } from "../helpers/net.ts";
import { type RabbitCluster, type RabbitNode, startRabbitCluster } from "../helpers/rabbit-cluster.ts";
import { log, noLimits, REDIS_URL, randomNamespace, type Stack, startStack } from "../helpers/stack.ts";
import { jobsThroughKill } from "../helpers/through-kill.ts";

interface QueueRow {
  name: string;
  type: string;
}

describe("faults: a 3-node RabbitMQ cluster with quorum queues (issue 8)", function () {
  this.timeout(120_000);
  let mq: RabbitCluster;

  before(async function () {
    this.timeout(180_000);
    mq = await startRabbitCluster(3);
    process.stderr.write(`      (private 3-node RabbitMQ cluster started in ${mq.startupMs} ms)\n`);
  });
  after(async () => {
    await mq?.stop();
  });

  /** A fresh namespace whose quorum queues were declared through `leaderNode`, so that it leads
   * them (a quorum queue starts with its leader on the declaring node). */
  async function declaredThrough(leaderNode: RabbitNode): Promise<string> {
    const namespace = randomNamespace("mqc");
    const declare = await RabbitJobQueue.connect({
      url: leaderNode.url,
      names: names(namespace),
      log,
      connectTimeoutMs: 10_000,
      publishTimeoutMs: 5_000,
      queueType: "quorum",
    });
    await declare.close();
    return namespace;
  }

  /** An in-process API and 2 workers on the cluster, the queues led by `leaderNode`. */
  async function clusterStack(leaderNode: RabbitNode): Promise<Stack> {
    const namespace = await declaredThrough(leaderNode);
    return startStack({
      namespace,
      workers: 2,
      amqpUrls: mq.urls,
      queueType: "quorum",
      // A redelivered message of a job still running elsewhere waits out this lease: keep it short.
      leaseMs: 3_000,
      stallTimeoutMs: 60_000,
      // Herald's net for a lost message: in many runs of (b) after (a), retries in the quorum retry
      // tiers did not come back after the leader's kill (README, RabbitMQ cluster: a known gap);
      // the watchdog republishes such a job 15 s after it was due (default 10 min).
      queueWatchdogMs: 15_000,
      publishTimeoutMs: 5_000,
      env: { ...noLimits },
    });
  }

  /** The killed node comes back first: the next scenario needs a majority after its own kill, and
   * deleting a quorum queue with a member down takes 5 s per queue here. */
  async function restartThenClose(node: RabbitNode, stack: Stack): Promise<void> {
    try {
      if (!node.alive) await mq.start(node);
    } finally {
      await stack.close();
    }
  }

  const connections = (stack: Stack) => [stack.apiQueue, ...stack.workerQueues].map((q) => q.connectedUrl());

  it("(a) kill -9 of the node 2 APIs (behind nginx) and 2 workers are connected to: every 202 succeeds exactly once", async function () {
    this.timeout(240_000); // starting four real processes alone took a minute on a loaded machine
    const [first, second] = mq.nodes;
    if (!first || !second) throw new Error("a 3-node cluster");
    const namespace = await declaredThrough(second);
    // Real processes, configured as an operator would: AMQP_URL lists the nodes, QUEUE_TYPE unset.
    const herald = await startCluster({
      apis: 2,
      workers: 2,
      namespace,
      readyTimeoutMs: 120_000, // four tsx processes starting at once on a busy 2-core machine
      env: {
        AMQP_URL: mq.urls.join(","),
        LEASE_MS: "3000",
        STALL_TIMEOUT_MS: "60000",
        PUBLISH_TIMEOUT_MS: "5000",
        ...noLimits,
      },
    });
    try {
      const queues = JSON.parse(await mq.ctl(["list_queues", "name", "type", "--formatter", "json"])) as QueueRow[];
      expect(queues.find((q) => q.name === herald.names.jobsQueue)?.type).to.equal("quorum");
      // Declared through node 2, so led there (under heavy load leadership can move: not to node 1, though).
      expect((await mq.leaderOf(herald.names.jobsQueue)).name).to.not.equal(first.name);
      // AMQP_URL lists node 1 first: every process is on it (and it does not lead the queue).
      expect(await mq.connectionsByNode()).to.deep.equal(counts([first, 4]));
      const report = await jobsThroughKill({
        baseUrl: herald.baseUrl,
        names: herald.names,
        kill: () => mq.kill(first),
        reconnected: async () => {
          const byNode = await mq.connectionsByNode();
          return byNode.get(first.name) === 0 && [...byNode.values()].reduce((a, b) => a + b, 0) === 4;
        },
        describe: () => queueState(herald.names.jobsQueue),
      });
      process.stderr.write(`      (${report.summary()})\n`);
      report.check();
      for (const p of [...herald.apis, ...herald.workers]) expect(p.alive, `${p.id} is up`).to.equal(true);
    } finally {
      try {
        if (!first.alive) await mq.start(first);
      } finally {
        await herald.stop();
      }
    }
  });

  it("(b) kill -9 of the node leading the jobs queue: every 202 succeeds exactly once", async () => {
    const [first, , third] = mq.nodes;
    if (!first || !third) throw new Error("a 3-node cluster");
    const stack = await clusterStack(third);
    // The leader when the kill comes (declared through node 3; leadership can move under load).
    let leader: RabbitNode = third;
    try {
      expect(connections(stack)).to.deep.equal([first.url, first.url, first.url].map(redacted));
      const report = await jobsThroughKill({
        baseUrl: stack.baseUrl,
        names: stack.names,
        kill: async () => {
          leader = await mq.leaderOf(stack.names.jobsQueue);
          // Not the node the processes are on: this is the leader's loss alone.
          expect(leader.name).to.not.equal(first.name);
          await mq.kill(leader);
        },
        reconnected: async () => connections(stack).every((url) => url !== null),
        describe: () => queueState(stack.names.jobsQueue),
      });
      process.stderr.write(`      (${report.summary()})\n`);
      // The processes kept their connections; the queue got a new leader.
      expect(connections(stack)).to.deep.equal([first.url, first.url, first.url].map(redacted));
      expect((await mq.leaderOf(stack.names.jobsQueue)).name).to.not.equal(leader.name);
      report.check();
    } finally {
      await restartThenClose(leader, stack);
    }
  });

  it("retry tiers work on quorum queues: a job failing its first 2 attempts succeeds on the 3rd", async () => {
    const [first] = mq.nodes;
    if (!first) throw new Error("a 3-node cluster");
    const stack = await clusterStack(first);
    const history = await watchJobHistory(REDIS_URL, stack.names);
    try {
      const reply = await postJob(stack.baseUrl, { type: "demo", payload: { steps: 2, stepMs: 20, failAttempts: 2 } });
      expect(reply.status).to.equal(202);
      const job = reply.body as AcceptedJob;
      const end = await pollUntil(
        async () => {
          const s = await getStatus(stack.baseUrl, job);
          return isTerminal(s.body.status) ? s.body : null;
        },
        { timeoutMs: 30_000, everyMs: 100, what: "the flaky job to end" },
      );
      expect(end).to.include({ status: "succeeded", attempts: 3 });
      expect(history.runningAttempts(job.id)).to.deep.equal([1, 2, 3]);
      expect(history.succeededCommits(job.id)).to.equal(1);
      // The retries waited in quorum retry tiers (per-message TTL, dead-lettered back at least once).
      const tiers = JSON.parse(await mq.ctl(["list_queues", "name", "type", "--formatter", "json"])) as QueueRow[];
      const retryTier = tiers.find((q) => q.name === stack.names.retryQueue(1_000));
      expect(retryTier?.type).to.equal("quorum");
      // deploy/rabbitmq-advanced.config is in force: an unconfirmed dead letter is resent after 5 s.
      const timeout = await mq.ctl([
        "eval",
        "application:get_env(rabbit, dead_letter_worker_publisher_confirm_timeout).",
      ]);
      expect(timeout.trim()).to.equal("{ok,5000}");
    } finally {
      await history.close();
      await stack.close();
    }
  });

  it("a poison message (its consumer dies on every delivery) reaches the dead-letter queue by the delivery limit", async () => {
    const namespace = randomNamespace("mqp");
    const n = names(namespace);
    const opts = {
      url: mq.urls,
      names: n,
      log,
      connectTimeoutMs: 10_000,
      publishTimeoutMs: 5_000,
      queueType: "quorum" as const,
      deliveryLimit: 3,
    };
    const queue = await RabbitJobQueue.connect(opts);
    let deliveries = 0;
    try {
      // A consumer that crashes on this message: the adapter hands it back each time.
      await queue.consume(async (d: Delivery) => {
        deliveries++;
        throw new Error(`crash on delivery ${deliveries} of ${d.body.length} bytes`);
      }, 1);
      const jobId = crypto.randomUUID();
      await queue.publish({ v: 1, jobId, type: "demo", payload: {} });
      const letter = await pollUntil(
        () =>
          queue.withChannel(async (ch) => {
            const msg = await ch.get(n.deadLetterQueue, { noAck: true });
            return msg || null;
          }),
        { timeoutMs: 30_000, everyMs: 200, what: "the poison message in the dead-letter queue" },
      );
      expect(JSON.parse(letter.content.toString()).jobId).to.equal(jobId);
      const death = (letter.properties.headers?.["x-death"] as { reason?: string }[] | undefined)?.[0];
      expect(death?.reason).to.equal("delivery_limit");
      // Delivered limit + 1 times (x-delivery-limit 3: the 4th return dead-letters it), then never again.
      expect(deliveries).to.equal(4);
      expect((await queue.withChannel((ch) => ch.checkQueue(n.jobsQueue))).messageCount).to.equal(0);
    } finally {
      await queue.stopConsuming();
      await queue
        .withChannel(async (ch) => {
          for (const q of allQueues(n)) await ch.deleteQueue(q);
          for (const e of allExchanges(n)) await ch.deleteExchange(e);
        })
        .catch(() => undefined);
      await queue.close();
    }
  });

  /** The jobs queue as RabbitMQ sees it, for failure messages. */
  const queueState = async (queue: string) => {
    const items = ["name", "leader", "online", "messages_ready", "messages_unacknowledged", "consumers"];
    const rows = JSON.parse(await mq.ctl(["list_queues", ...items, "--formatter", "json"])) as { name: string }[];
    return `jobs queue: ${JSON.stringify(rows.find((r) => r.name === queue))}`;
  };

  const redacted = (url: string) => url.replace(/:([^:@/]+)@/, ":***@");

  /** Connections per node name: `count` on each given node, 0 on the others. */
  const counts = (...on: [RabbitNode, number][]) =>
    new Map(mq.nodes.map((node) => [node.name, on.find(([n]) => n.name === node.name)?.[1] ?? 0]));
});
