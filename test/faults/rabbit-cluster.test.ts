// Issue 8, RabbitMQ half: Herald on a private 3-node RabbitMQ cluster with quorum queues (an
// in-process API and 2 workers, AMQP_URL listing the 3 nodes; the shared Redis). kill -9 of the
// node the API and the workers are connected to, and of the node leading the jobs queue: every
// job that got 202 ends `succeeded` exactly once, and a subscribed Socket.IO client gets every
// terminal event. Also a poison message reaching the dead-letter queue through the delivery limit,
// and retry tiers on quorum queues.
import { expect } from "chai";
import type { ClientSocket } from "../../shared/client/socket-channel.ts";
import { type AcceptedJob, isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import type { Delivery } from "../../shared/queue/job-queue.ts";
import { allExchanges, allQueues } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { names } from "../../shared/store/names.ts";
import { getStatus, postJob } from "../helpers/http.ts";
import { watchJobHistory } from "../helpers/job-history.ts";
import { pollUntil } from "../helpers/net.ts";
import { type RabbitCluster, type RabbitNode, startRabbitCluster } from "../helpers/rabbit-cluster.ts";
import { connectSocket } from "../helpers/realtime.ts";
import { log, noLimits, REDIS_URL, randomNamespace, type Stack, startStack } from "../helpers/stack.ts";

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

  /** A stack on the cluster whose queues were declared through `leaderNode` (so it leads them:
   * quorum queues start with their leader on the declaring node). */
  async function clusterStack(leaderNode: RabbitNode): Promise<Stack> {
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
    return startStack({
      namespace,
      workers: 2,
      amqpUrls: mq.urls,
      queueType: "quorum",
      // A redelivered message of a job still running elsewhere waits out this lease: keep it short.
      leaseMs: 3_000,
      stallTimeoutMs: 60_000,
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

  it("(a) kill -9 of the node the API and both workers are connected to: every 202 succeeds exactly once", async () => {
    const [first, second] = mq.nodes;
    if (!first || !second) throw new Error("a 3-node cluster");
    const stack = await clusterStack(second);
    try {
      expect((await mq.leaderOf(stack.names.jobsQueue)).name).to.equal(second.name);
      // AMQP_URL lists node 1 first: every process is on it (and it does not lead the queue).
      expect(connections(stack)).to.deep.equal([first.url, first.url, first.url].map(redacted));
      const report = await throughKill(stack, () => mq.kill(first));
      expect(connections(stack)).to.not.include(redacted(first.url));
      report.check();
    } finally {
      await restartThenClose(first, stack);
    }
  });

  it("(b) kill -9 of the node leading the jobs queue: every 202 succeeds exactly once", async () => {
    const [first, , third] = mq.nodes;
    if (!first || !third) throw new Error("a 3-node cluster");
    const stack = await clusterStack(third);
    try {
      expect((await mq.leaderOf(stack.names.jobsQueue)).name).to.equal(third.name);
      expect(connections(stack)).to.deep.equal([first.url, first.url, first.url].map(redacted));
      const report = await throughKill(stack, () => mq.kill(third));
      // The processes kept their connections; the queue got a new leader.
      expect(connections(stack)).to.deep.equal([first.url, first.url, first.url].map(redacted));
      expect((await mq.leaderOf(stack.names.jobsQueue)).name).to.not.equal(third.name);
      report.check();
    } finally {
      await restartThenClose(third, stack);
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
      const tiers = JSON.parse(await mq.ctl(["list_queues", "name", "type", "--formatter", "json"])) as {
        name: string;
        type: string;
      }[];
      const retryTier = tiers.find((q) => q.name === stack.names.retryQueue(1_000));
      expect(retryTier?.type).to.equal("quorum");
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

  const redacted = (url: string) => url.replace(/:([^:@/]+)@/, ":***@");

  interface Report {
    check(): void;
  }

  /**
   * Jobs submitted before the kill (some running when it comes), while the kill happens and the
   * processes move (every 150 ms until 3 s after it), and after: each 202'd job subscribed over
   * Socket.IO at once. Resolves when every accepted job has ended; check() asserts the verdict.
   */
  async function throughKill(stack: Stack, kill: () => Promise<void>): Promise<Report> {
    const socket = await connectSocket(stack.baseUrl);
    const history = await watchJobHistory(REDIS_URL, stack.names);
    const accepted = new Map<string, AcceptedJob>();
    const terminal = new Map<string, JobView[]>();
    const answers: Record<"before" | "during" | "after", number[]> = { before: [], during: [], after: [] };
    socket.on("job", (view: JobView) => {
      if (isTerminal(view.status)) terminal.set(view.id, [...(terminal.get(view.id) ?? []), view]);
    });
    let seq = 0;
    const submit = async (phase: keyof typeof answers) => {
      const i = seq++;
      // Every third job fails its first attempt: its retry waits in a retry tier across the kill.
      const payload = { steps: 4, stepMs: 250, ...(i % 3 === 0 ? { failAttempts: 1 } : {}) };
      const reply = await postJob(stack.baseUrl, { type: "demo", payload });
      answers[phase].push(reply.status);
      if (reply.status !== 202) return;
      const job = reply.body as AcceptedJob;
      accepted.set(job.id, job);
      await subscribe(socket, job);
    };
    try {
      for (let i = 0; i < 6; i++) await submit("before");
      await pollUntil(() => [...accepted.keys()].filter((id) => history.latest(id)?.status === "running").length >= 2, {
        timeoutMs: 20_000,
        what: "jobs running before the kill",
      });
      let killed = false;
      const killing = kill().then(() => (killed = true));
      let killedAt = 0;
      while (!killed || Date.now() - killedAt < 3_000) {
        if (killed && killedAt === 0) killedAt = Date.now();
        await submit("during");
        await new Promise((r) => setTimeout(r, 150));
      }
      await killing;
      await pollUntil(() => connections(stack).every((url) => url !== null), {
        timeoutMs: 30_000,
        what: "API and workers reconnected",
      });
      for (let i = 0; i < 6; i++) await submit("after");
      await pollUntil(() => [...accepted.keys()].every((id) => terminal.has(id)), {
        timeoutMs: 90_000,
        everyMs: 200,
        what: `a terminal event for each of ${accepted.size} accepted jobs (have ${terminal.size})`,
      });
      const tally = (phase: keyof typeof answers) =>
        `${answers[phase].filter((s) => s === 202).length}/${answers[phase].length}`;
      process.stderr.write(
        `      (202s before ${tally("before")}, during ${tally("during")}, after ${tally("after")})\n`,
      );
      const finals = new Map<string, string>();
      for (const job of accepted.values()) finals.set(job.id, (await getStatus(stack.baseUrl, job)).body.status);
      return {
        check() {
          const refusals = Object.values(answers)
            .flat()
            .filter((s) => s !== 202);
          // A refused submit is a 503 (no confirm in time), never anything else.
          expect(
            refusals.every((s) => s === 503),
            `answers: ${JSON.stringify(answers)}`,
          ).to.equal(true);
          expect(answers.before.every((s) => s === 202)).to.equal(true);
          expect(answers.after.every((s) => s === 202)).to.equal(true);
          expect(answers.during.length).to.be.greaterThan(0);
          for (const [id] of accepted) {
            expect(finals.get(id), `job ${id}`).to.equal("succeeded");
            expect(history.succeededCommits(id), `succeeded commits of ${id}`).to.equal(1);
            expect(terminal.get(id)?.map((v) => v.status)).to.deep.equal(["succeeded"]);
          }
          expect(history.disconnects, "the history watcher saw every commit").to.equal(0);
        },
      };
    } finally {
      socket.close();
      await history.close();
    }
  }
});

async function subscribe(socket: ClientSocket, job: AcceptedJob): Promise<void> {
  const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
  if (!reply.ok) throw new Error(`subscribe refused: ${JSON.stringify(reply.error)}`);
}
