// Issue 8: a queue cannot change type in place. A process whose QUEUE_TYPE differs from the type of
// the queues already there fails at once, saying what to do, instead of retrying until
// CONNECT_TIMEOUT_MS as if RabbitMQ were down. (Quorum queues on a cluster: test/faults/clusters.test.ts.)
import { expect } from "chai";
import { allExchanges, allQueues, queueArguments, TopologyMismatchError } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { names } from "../../shared/store/names.ts";
import { freePort } from "../helpers/net.ts";
import { exitWithin, killAll, type Spawned, spawnGroup } from "../helpers/processes.ts";
import { AMQP_URL, log, randomNamespace } from "../helpers/stack.ts";

describe("integration: QUEUE_TYPE against existing queues", () => {
  const n = names(randomNamespace("qtype"));
  const opts = { url: AMQP_URL, names: n, log, connectTimeoutMs: 20_000, publishTimeoutMs: 2_000 };

  const started: Spawned[] = [];
  after(async () => {
    for (const p of started) await killAll(p);
    const q = await RabbitJobQueue.connect({ ...opts, queueType: "classic" });
    await q.withChannel(async (ch) => {
      for (const name of allQueues(n)) await ch.deleteQueue(name);
      for (const name of allExchanges(n)) await ch.deleteExchange(name);
    });
    await q.close();
  });

  it("classic queues of an existing deployment keep working with QUEUE_TYPE=classic (the same arguments as before)", async () => {
    const q = await RabbitJobQueue.connect({ ...opts, queueType: "classic" });
    await q.close();
    const again = await RabbitJobQueue.connect({ ...opts, queueType: "classic" });
    expect(again.isConnected()).to.equal(true);
    await again.close();
    // What releases before issue 8 declared for the jobs queue: redeclaring it must not be a 406.
    expect(queueArguments(n, { queueType: "classic", deliveryLimit: 50 })[n.jobsQueue]).to.deep.equal({
      "x-queue-type": "classic",
      "x-dead-letter-exchange": n.deadLetterExchange,
    });
  });

  it("QUEUE_TYPE=quorum on those classic queues fails at once with what to do", async () => {
    const started = Date.now();
    let error: unknown;
    try {
      const q = await RabbitJobQueue.connect({ ...opts, queueType: "quorum" });
      await q.close();
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TopologyMismatchError);
    const message = String((error as Error).message);
    expect(message).to.include(n.deadLetterQueue);
    expect(message).to.include("QUEUE_TYPE=classic");
    expect(message).to.include("Deployment and scaling");
    // Not retried until connectTimeoutMs (20 s): waiting cannot change a queue's type.
    expect(Date.now() - started).to.be.below(10_000);
  });

  it("an API process started with QUEUE_TYPE=quorum on them exits 1 at once, saying what to do", async function () {
    this.timeout(60_000);
    const p = spawnGroup("node", ["--import", "tsx", "services/api/main.ts"], {
      HOST: "127.0.0.1",
      PORT: String(await freePort()),
      HERALD_NAMESPACE: n.namespace,
      AMQP_URL,
      QUEUE_TYPE: "quorum",
      CONNECT_TIMEOUT_MS: "60000", // what it must not wait for
    });
    started.push(p);
    const { code } = await exitWithin(p, 45_000);
    expect(code, p.stderr()).to.equal(1);
    expect(p.stderr()).to.include("RabbitMQ refused Herald's queues");
    expect(p.stderr()).to.include("QUEUE_TYPE=classic");
    expect(p.stderr(), "one try, no retries").to.not.match(/"try":2/);
  });

  it("quorum queues carry the delivery limit and at-least-once dead-lettering; retry tiers a queue TTL", () => {
    const args = queueArguments(n, { queueType: "quorum", deliveryLimit: 7 });
    expect(args[n.jobsQueue]).to.deep.equal({
      "x-queue-type": "quorum",
      "x-dead-letter-exchange": n.deadLetterExchange,
      "x-delivery-limit": 7,
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
    });
    expect(args[n.retryQueue(5_000)]).to.include({
      "x-queue-type": "quorum",
      "x-message-ttl": 5_000,
      "x-dead-letter-exchange": n.jobsExchange,
      "x-dead-letter-strategy": "at-least-once",
    });
    expect(args[n.deadLetterQueue]).to.deep.equal({ "x-queue-type": "quorum" });
  });
});
