// When the broker does not confirm a job, POST answers 503 quickly and leaves no job record.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import { expect } from "chai";
import { pollToEnd, postJob, type Reply, request } from "../helpers/http.ts";
import { jobKeys } from "../helpers/redis-keys.ts";
import { AMQP_URL, type Stack, startStack } from "../helpers/stack.ts";

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run("rabbitmqctl", ["-q", ...args], { timeout: 20_000 });
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");

function expectBrokerUnavailable(reply: Reply, elapsedMs: number): void {
  expect(reply.status, JSON.stringify(reply.body)).to.equal(503);
  expect(reply.contentType).to.match(/^application\/problem\+json/);
  expect((reply.body as { type: string }).type).to.equal("urn:herald:problem:broker-unavailable");
  expect(Number(reply.headers.get("retry-after")))
    .to.be.a("number")
    .and.be.greaterThan(0);
  expect(reply.headers.get("location")).to.equal(null);
  expect(elapsedMs).to.be.below(3_000);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = Date.now();
  const value = await fn();
  return [value, Date.now() - start];
}

describe("publish failure: the broker refuses the job (a real nack)", function () {
  this.timeout(30_000);
  let stack: Stack;
  let conn: ChannelModel;
  let probe: ConfirmChannel;
  let policy: string;
  let policySet = false;

  before(async () => {
    stack = await startStack();
    policy = `herald-test-${stack.names.namespace}`;
    conn = await amqp.connect(AMQP_URL);
    probe = await conn.createConfirmChannel();
    probe.on("error", () => {});
  });
  after(async () => {
    if (policySet) await rabbitmqctl("clear_policy", policy).catch(() => {});
    await conn?.close().catch(() => {});
    await stack?.close();
  });

  /** Publishes probes to the jobs exchange until the broker's answer is `wanted` (nack = refused). */
  async function waitForBroker(wanted: "nack" | "ack", timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      probe.publish(stack.names.jobsExchange, stack.names.jobsRoutingKey, Buffer.from('{"probe":true}'));
      const answer = await probe.waitForConfirms().then(
        () => "ack",
        () => "nack",
      );
      if (answer === wanted) return;
      if (Date.now() > deadline) throw new Error(`the broker still answers ${answer} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("POST answers 503 broker-unavailable with Retry-After, and no job record remains", async () => {
    const queue = stack.names.jobsQueue;
    await rabbitmqctl(
      "set_policy",
      "--apply-to",
      "queues",
      // Only one policy applies to a queue (the highest priority): make sure it is this one.
      "--priority",
      "1000",
      policy,
      `^${escapeRegex(queue)}$`,
      JSON.stringify({ "max-length": 0, overflow: "reject-publish" }),
    );
    policySet = true;
    await waitForBroker("nack");

    const [reply, ms] = await timed(() => postJob(stack.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } }));
    expectBrokerUnavailable(reply, ms);
    // The stack's publish timeout is 2 s: answering well before it shows the nack itself was heard.
    expect(ms).to.be.below(1_500, "answered on the nack, not on the confirm timeout");
    expect(await jobKeys(stack.redis, stack.names)).to.deep.equal([], "no orphan job record");

    // Several at once: all refused, none left behind.
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => postJob(stack.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } })),
    );
    for (const r of replies) expect(r.status).to.equal(503);
    expect(await jobKeys(stack.redis, stack.names)).to.deep.equal([], "no orphan job record");
  });

  it("once the broker takes messages again, jobs are accepted and run", async () => {
    await rabbitmqctl("clear_policy", policy);
    policySet = false;
    await waitForBroker("ack");
    const reply = await postJob(stack.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(202);
    const job = reply.body as { id: string; token: string };
    expect((await pollToEnd(stack.baseUrl, job)).at(-1)?.status).to.equal(303);
  });
});

describe("publish failure: the API's queue connection is closed", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  it("POST answers 503 quickly, leaves no job record, and /readyz says not ready", async () => {
    await stack.apiQueue.close();
    const [reply, ms] = await timed(() => postJob(stack.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } }));
    expectBrokerUnavailable(reply, ms);
    expect(ms).to.be.below(1_000, "no waiting for a confirm that cannot come");
    expect(await jobKeys(stack.redis, stack.names)).to.deep.equal([]);

    const ready = await request<{ checks: Record<string, boolean> }>(`${stack.baseUrl}/readyz`);
    expect(ready.status).to.equal(503);
    expect(ready.body.checks.rabbitmq).to.equal(false);
  });
});
