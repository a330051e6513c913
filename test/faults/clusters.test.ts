// Issue 8: Herald on a private Redis Cluster (3 masters, 3 replicas, appendonly) and a private
// 3-node RabbitMQ cluster (quorum queues), as an operator runs it: 2 API processes behind nginx and
// 2 worker processes, configured with REDIS_CLUSTER_NODES and an AMQP_URL node list. Both clusters
// and the processes start once for the file (a RabbitMQ cluster alone takes 20-40 s here).
// - The scale-out contract (test/contracts/scale-out.ts, the same tests test/e2e/scale-out.test.ts
//   runs on the shared brokers): protocol round trip, long polls, cancel, Socket.IO across
//   instances, SSE, an API killed mid-job.
// - Faults, each while jobs are submitted and run (through-kill.ts): kill -9 of the Redis master
//   holding running jobs' shard (its replica takes over), the same master frozen with SIGSTOP (a
//   hang: its connections stay open and nothing answers; thawed afterwards, it rejoins as a
//   replica), kill -9 of the RabbitMQ node leading the jobs queue, and of the RabbitMQ node every
//   process is connected to, and that node frozen with SIGSTOP (the processes leave it after two
//   missed heartbeats; rabbitmqctl cannot reach a cluster with a hung member, so which node each
//   process is on is read from the processes). Every job that got 202 ends
//   `succeeded`, committed once (the nodes' AOFs are the witness), and a subscribed Socket.IO
//   client gets exactly its terminal event. Each killed node is started again for the next test.
// - Quorum queues: retry tiers, and a poison message dead-lettered by the delivery limit.
// - Last, a short chaos soak on the same clusters (test/helpers/soak.ts; `npm run soak -- --clusters`
//   is the long one, on clusters of its own): 90 jobs through worker, API, Redis master and
//   RabbitMQ node kills; none lost, none run twice.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { type AcceptedJob, isTerminal } from "../../shared/jobs/schemas.ts";
import type { Delivery } from "../../shared/queue/job-queue.ts";
import { allExchanges, allQueues } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { names } from "../../shared/store/names.ts";
import { scaleOutContract } from "../contracts/scale-out.ts";
import { allMovedOff, processConnections } from "../helpers/amqp-links.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import { getStatus, postJob } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type RabbitCluster, type RabbitNode, startRabbitCluster } from "../helpers/rabbit-cluster.ts";
import { type PrivateRedisCluster, startRedisCluster } from "../helpers/redis-cluster.ts";
import { clusterTarget, connectTarget } from "../helpers/redis-target.ts";
import { formatDetails, formatReport, runSoak, type SoakReport } from "../helpers/soak.ts";
import { NO_REWRITE } from "../helpers/soak-brokers.ts";
import { aofWitness } from "../helpers/soak-witnesses.ts";
import { log, noLimits, randomNamespace } from "../helpers/stack.ts";
import { jobsThroughKill, type KillReport } from "../helpers/through-kill.ts";

const run = promisify(execFile);

/** Port ranges of this file's private brokers (apart from other helpers' and the soak's). */
const CLUSTER_TEST_PORTS = {
  redis: { from: 27_400, to: 27_449 },
  rabbit: { from: 27_500, to: 27_549 },
} as const;

interface QueueRow {
  name: string;
  type: string;
}

describe("faults: Herald on a Redis Cluster and a RabbitMQ cluster (issue 8)", function () {
  this.timeout(180_000);
  let redis: PrivateRedisCluster;
  let mq: RabbitCluster;
  let herald: Cluster;
  /** Dirs of Redis nodes restarted after a kill: their AOF starts again from their resync. */
  const resynced = new Set<string>();
  let began = 0;

  before(async function () {
    this.timeout(400_000); // both clusters, then four processes, on a busy 2-core machine
    began = Date.now(); // not at load: a serial mocha run loads every file before it runs the first
    [redis, mq] = await Promise.all([
      // No AOF rewrite: the AOFs stay every job's whole history (the witness here and the soak's).
      startRedisCluster({ ports: CLUSTER_TEST_PORTS.redis, extraArgs: NO_REWRITE }),
      startRabbitCluster(3, { ports: CLUSTER_TEST_PORTS.rabbit }),
    ]);
    const [, second] = mq.nodes;
    if (!second) throw new Error("a 3-node cluster");
    // The jobs queue led by node 2, while every process connects to node 1 (first in AMQP_URL):
    // the leader's loss and the connected node's loss are then two faults.
    const namespace = await declaredThrough(second);
    herald = await startCluster({
      apis: 2,
      workers: 2,
      namespace,
      redis: clusterTarget(redis.nodes),
      readyTimeoutMs: 120_000,
      env: {
        AMQP_URL: mq.urls.join(","), // QUEUE_TYPE unset: quorum, as several nodes are listed
        LEASE_MS: "3000",
        STALL_TIMEOUT_MS: "60000",
        PUBLISH_TIMEOUT_MS: "5000",
        // A retry lost with a quorum retry tier's leader (README, RabbitMQ cluster: a known gap) is
        // republished 15 s after it was due (default 10 min).
        QUEUE_WATCHDOG_MS: "15000",
        ...noLimits,
      },
    });
    process.stderr.write(
      `      (clusters and Herald up in ${Math.round((Date.now() - began) / 1000)} s; RabbitMQ cluster ${mq.startupMs} ms)\n`,
    );
  });
  after(async () => {
    try {
      await herald?.stop();
    } finally {
      await Promise.all([redis?.stop(), mq?.stop()]);
      process.stderr.write(`      (clusters.test.ts: ${Math.round((Date.now() - began) / 1000)} s in all)\n`);
    }
  });

  /** A fresh namespace whose quorum queues were declared through `node`, so that it leads them. */
  async function declaredThrough(node: RabbitNode): Promise<string> {
    const namespace = randomNamespace("clusters");
    const declare = await RabbitJobQueue.connect({
      url: node.url,
      names: names(namespace),
      log,
      connectTimeoutMs: 10_000,
      publishTimeoutMs: 5_000,
      queueType: "quorum",
    });
    await declare.close();
    return namespace;
  }

  it("runs on the clusters as configured: every Redis node with appendonly, the jobs queue a quorum queue", async () => {
    for (const port of redis.ports) {
      const { stdout } = await run("redis-cli", ["-p", String(port), "CONFIG", "GET", "appendonly"]);
      expect(stdout.split("\n")[1], `node ${port}`).to.equal("yes");
    }
    const queues = JSON.parse(await mq.ctl(["list_queues", "name", "type", "--formatter", "json"])) as QueueRow[];
    expect(queues.find((q) => q.name === herald.names.jobsQueue)?.type).to.equal("quorum");
    // Jobs spread over the masters: 30 jobs' records live on all three.
    const harness = await connectTarget(herald.redis, log);
    try {
      const ids = Array.from({ length: 30 }, () => crypto.randomUUID());
      const masters = new Set(await redis.mastersFor(ids.map((id) => herald.names.jobKey(id))));
      expect(masters.size, "job keys spread over the 3 masters").to.equal(3);
    } finally {
      await harness.close();
    }
  });

  describe("the scale-out contract, on the clusters", () => {
    scaleOutContract(() => herald);
  });

  describe("faults", () => {
    const witness = () =>
      Promise.resolve(
        aofWitness(
          () => [...redis.dirs().values()],
          herald.namespace,
          () => resynced,
        ),
      );
    /** What each API answered for the probe job last (for the failure message). */
    const probes = new Map<string, string>();
    const apisServe = (job: AcceptedJob) => async () => {
      const answers = await Promise.all(
        herald.apis.map(async (api) => {
          const reply = await getStatus(api.url, job).catch((err: unknown) => ({ status: String(err), body: null }));
          probes.set(api.id, `${reply.status} ${JSON.stringify(reply.body).slice(0, 120)}`);
          return reply.status === 200 || reply.status === 303; // running, or succeeded meanwhile
        }),
      );
      return answers.every(Boolean);
    };
    const report = (r: KillReport) => process.stderr.write(`      (${r.summary()})\n`);

    /** Jobs through a fault of the Redis master holding a running job's shard: `strike` takes it out
     * (resolving once a replica serves its slots), `bringBack` returns it as a replica afterwards. */
    async function throughRedisMasterFault(fault: {
      verb: string;
      strike: (key: string) => Promise<{ port: number; promoted: number }>;
      bringBack: (port: number) => Promise<void>;
    }): Promise<void> {
      let struck: number | undefined;
      let probe: AcceptedJob | undefined;
      try {
        const r = await jobsThroughKill({
          baseUrl: herald.baseUrl,
          names: herald.names,
          witness,
          kill: async (running) => {
            probe = running[0];
            if (!probe) throw new Error("no job running");
            const { port, promoted } = await fault.strike(herald.names.jobKey(probe.id));
            struck = port;
            process.stderr.write(`      (${fault.verb} master ${port}; ${promoted} took over)\n`);
          },
          // Both APIs read the master's slots again (from the promoted replica).
          reconnected: async () => (probe ? apisServe(probe)() : false),
          describe: async () =>
            `masters now: ${(await redis.masters()).join(", ")}; probe answers: ${JSON.stringify([...probes])}`,
        });
        report(r);
        r.check();
        for (const p of [...herald.apis, ...herald.workers]) expect(p.alive, `${p.id} is up`).to.equal(true);
      } finally {
        if (struck !== undefined) {
          await fault.bringBack(struck); // it resyncs from the promoted node: its AOF starts anew
          resynced.add(redis.dirs().get(struck) as string);
        }
      }
    }

    it("kill -9 of the Redis master holding running jobs: its replica takes over; every 202 succeeds exactly once", () =>
      throughRedisMasterFault({
        verb: "killed",
        strike: async (key) => {
          const { killed, promoted } = await redis.killMaster(key);
          return { port: killed, promoted };
        },
        bringBack: (port) => redis.restart(port),
      }));

    it("SIGSTOP of the Redis master holding running jobs (a hang, not a crash): its replica takes over; every 202 succeeds exactly once", () =>
      // The hang watch moves every client off the frozen node once its replica is promoted; thawed,
      // it learns it was failed over and rejoins as a replica.
      throughRedisMasterFault({
        verb: "froze",
        strike: async (key) => {
          const { frozen, promoted } = await redis.freezeMaster(key);
          return { port: frozen, promoted };
        },
        bringBack: (port) => redis.thaw(port),
      }));

    it("kill -9 of the RabbitMQ node leading the jobs queue: every 202 succeeds exactly once", async () => {
      const [first] = mq.nodes;
      if (!first) throw new Error("a 3-node cluster");
      let leader: RabbitNode | undefined;
      try {
        const r = await jobsThroughKill({
          baseUrl: herald.baseUrl,
          names: herald.names,
          witness,
          kill: async () => {
            leader = await mq.leaderOf(herald.names.jobsQueue);
            // Not the node the processes are on: this is the leader's loss alone.
            expect(leader.name).to.not.equal(first.name);
            await mq.kill(leader);
          },
          reconnected: async () => {
            const byNode = await mq.connectionsByNode();
            return [...byNode.values()].reduce((a, b) => a + b, 0) === 4;
          },
          describe: () => queueState(herald.names.jobsQueue),
        });
        report(r);
        expect((await mq.leaderOf(herald.names.jobsQueue)).name).to.not.equal(leader?.name);
        r.check();
      } finally {
        if (leader && !leader.alive) await mq.start(leader);
      }
    });

    it("kill -9 of the RabbitMQ node the APIs and workers are connected to: every 202 succeeds exactly once", async () => {
      const [first] = mq.nodes;
      if (!first) throw new Error("a 3-node cluster");
      expect(await mq.connectionsByNode()).to.deep.equal(counts([first, 4]), "every process on node 1");
      // After the leader's kill the leadership may have moved to node 1: hand it on, so this kill
      // is the connected node's loss alone.
      await leadElsewhere(first);
      try {
        const r = await jobsThroughKill({
          baseUrl: herald.baseUrl,
          names: herald.names,
          witness,
          kill: () => mq.kill(first),
          reconnected: async () => {
            const byNode = await mq.connectionsByNode();
            return byNode.get(first.name) === 0 && [...byNode.values()].reduce((a, b) => a + b, 0) === 4;
          },
          describe: () => queueState(herald.names.jobsQueue),
        });
        report(r);
        r.check();
        for (const p of [...herald.apis, ...herald.workers]) expect(p.alive, `${p.id} is up`).to.equal(true);
      } finally {
        if (!first.alive) await mq.start(first);
      }
    });

    it("SIGSTOP of the RabbitMQ node the APIs and workers are connected to (a hang): they move to the other nodes; every 202 succeeds exactly once", async () => {
      // Its sockets stay open and nothing answers: the processes learn of it from the missing AMQP
      // heartbeats, and the cluster from Erlang's distribution ticks, later still.
      const held = await nodeHoldingAll();
      await leadElsewhere(held);
      try {
        const r = await jobsThroughKill({
          baseUrl: herald.baseUrl,
          names: herald.names,
          witness,
          kill: () => mq.freeze(held),
          reconnected: async () => allMovedOff(processes(), ports(), held.port),
          describe: async () => links(),
        });
        report(r);
        r.check();
        for (const p of processes()) expect(p.alive, `${p.id} is up`).to.equal(true);
      } finally {
        // Thawed, it would find the others had declared it down (a partition): start it afresh.
        await mq.kill(held);
        await mq.start(held);
      }
    });
  });

  describe("quorum queues", () => {
    it("retry tiers work: a job failing its first 2 attempts succeeds on the 3rd", async () => {
      const reply = await postJob(herald.baseUrl, {
        type: "demo",
        payload: { steps: 2, stepMs: 20, failAttempts: 2 },
      });
      expect(reply.status).to.equal(202);
      const job = reply.body as AcceptedJob;
      const end = await pollUntil(
        async () => {
          const s = await getStatus(herald.baseUrl, job);
          return isTerminal(s.body.status) ? s.body : null;
        },
        { timeoutMs: 30_000, everyMs: 100, what: "the flaky job to end" },
      );
      expect(end).to.include({ status: "succeeded", attempts: 3 });
      const history = aofWitness(
        () => [...redis.dirs().values()],
        herald.namespace,
        () => resynced,
      );
      expect(history.succeededCommits(job.id)).to.equal(1);
      // The retries waited in quorum retry tiers (per-message TTL, dead-lettered back at least once).
      const tiers = JSON.parse(await mq.ctl(["list_queues", "name", "type", "--formatter", "json"])) as QueueRow[];
      expect(tiers.find((q) => q.name === herald.names.retryQueue(1_000))?.type).to.equal("quorum");
      // deploy/rabbitmq-advanced.config is in force: an unconfirmed dead letter is resent after 5 s.
      const timeout = await mq.ctl([
        "eval",
        "application:get_env(rabbit, dead_letter_worker_publisher_confirm_timeout).",
      ]);
      expect(timeout.trim()).to.equal("{ok,5000}");
    });

    it("a poison message (its consumer dies on every delivery) reaches the dead-letter queue by the delivery limit", async () => {
      const n = names(randomNamespace("mqp"));
      const queue = await RabbitJobQueue.connect({
        url: mq.urls,
        names: n,
        log,
        connectTimeoutMs: 10_000,
        publishTimeoutMs: 5_000,
        queueType: "quorum",
        deliveryLimit: 3,
      });
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
  });

  // Last: the file's Herald stops first, so the soak's processes are the only ones on the clusters.
  describe("a short soak on the clusters (npm run soak -- --clusters, shorter)", () => {
    let report: SoakReport | undefined;
    before(async function () {
      this.timeout(400_000); // its own Herald processes, the chaos, and every job's end, on a busy machine
      await herald.stop();
      report = await runSoak({
        clusters: { redis, rabbit: mq, resynced },
        jobs: 90,
        kills: 1,
        terms: 1,
        apiKills: 1,
        redisKills: 1,
        rabbitKills: 1,
        seed: 8,
      });
      const details = formatDetails(report);
      console.log(`${formatReport(report)}${details ? `\n${details}` : ""}`.replace(/^/gm, "      "));
    });

    it("does every fault: worker kill -9 and SIGTERM, API kill -9, Redis master kill -9, RabbitMQ node kill -9", () => {
      const r = report as SoakReport;
      expect(r.details.skipped, "faults that found nothing to hit").to.deep.equal([]);
      expect([r.workerKills, r.workerTerms, r.apiKills, r.redisKills, r.rabbitKills]).to.deep.equal([1, 1, 1, 1, 1]);
      expect(r.hit.redisKilled, "jobs running when their Redis master was killed").to.be.at.least(1);
      expect(r.witnesses.aofComplete, "the nodes' AOFs hold the whole history").to.equal(true);
    });

    it("accepts every job, loses none, runs none to success twice, ends each as it must; no process crashes", () => {
      const r = report as SoakReport;
      expect(r.accepted).to.equal(90);
      expect(r.lost, "lost jobs (listed above)").to.equal(0);
      expect(r.succeeded + r.failed + r.canceled).to.equal(90);
      expect(r.duplicated, "jobs completed twice (listed above)").to.equal(0);
      expect(r.wrongOutcomes, "jobs that ended wrong (listed above)").to.equal(0);
      expect(r.crashes, "crashed processes (listed above)").to.equal(0);
    });
  });

  /** Makes another node lead the jobs queue if `node` does (removing a member and adding it back
   * makes it a follower), so that a fault of `node` is not also the leader's. */
  async function leadElsewhere(node: RabbitNode): Promise<void> {
    const queue = herald.names.jobsQueue;
    if ((await mq.leaderOf(queue)).name === node.name) {
      await mq.ctl(["eval", `rabbit_quorum_queue:delete_member(<<"/">>, <<"${queue}">>, '${node.name}').`]);
      await mq.ctl(["eval", `rabbit_quorum_queue:add_member(<<"/">>, <<"${queue}">>, '${node.name}', 10000).`]);
    }
    expect((await mq.leaderOf(queue)).name).to.not.equal(node.name);
  }

  /** The node every Herald process is connected to (each moves to the next node in AMQP_URL when
   * its node goes, so they stay together). */
  async function nodeHoldingAll(): Promise<RabbitNode> {
    const byNode = await mq.connectionsByNode();
    const node = mq.nodes.find((n) => byNode.get(n.name) === 4);
    if (!node) throw new Error(`not every process on one node: ${JSON.stringify([...byNode])}`);
    return node;
  }

  const processes = () => [...herald.apis, ...herald.workers];
  const ports = () => mq.nodes.map((n) => n.port);
  const links = () => `connections by process: ${JSON.stringify(processConnections(processes(), ports()))}`;

  /** The jobs queue as RabbitMQ sees it, for failure messages. */
  const queueState = async (queue: string) => {
    const items = ["name", "leader", "online", "messages_ready", "messages_unacknowledged", "consumers"];
    const rows = JSON.parse(await mq.ctl(["list_queues", ...items, "--formatter", "json"])) as { name: string }[];
    return `jobs queue: ${JSON.stringify(rows.find((r) => r.name === queue))}`;
  };

  /** Connections per node name: `count` on each given node, 0 on the others. */
  const counts = (...on: [RabbitNode, number][]) =>
    new Map(mq.nodes.map((node) => [node.name, on.find(([n]) => n.name === node.name)?.[1] ?? 0]));
});
