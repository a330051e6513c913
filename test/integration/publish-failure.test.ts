// When the broker does not confirm a job, POST answers 503 quickly and leaves no job record.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import { expect } from "chai";
import { clientSends, type FreezeProxy, startFreezeProxy } from "../helpers/freeze-proxy.ts";
import { pollToEnd, postJob, type Reply, request } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { jobKeys } from "../helpers/redis-keys.ts";
import { AMQP_URL, noLimits, type Stack, startStack } from "../helpers/stack.ts";

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run("rabbitmqctl", ["-q", ...args], { timeout: 20_000 });
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");

function expectBrokerUnavailable(reply: Reply, elapsedMs: number, withinMs = 3_000): void {
  expect(reply.status, JSON.stringify(reply.body)).to.equal(503);
  expect(reply.contentType).to.match(/^application\/problem\+json/);
  expect((reply.body as { type: string }).type).to.equal("urn:herald:problem:broker-unavailable");
  expect(Number(reply.headers.get("retry-after")))
    .to.be.a("number")
    .and.be.greaterThan(0);
  expect(reply.headers.get("location")).to.equal(null);
  expect(elapsedMs).to.be.below(withinMs);
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

describe("publish failure: the broker stays connected but its confirm never comes", function () {
  this.timeout(60_000);
  const publishTimeoutMs = 3_000;
  let proxy: FreezeProxy | undefined;
  // APIs whose queue link goes through the proxy: one without the queue-depth bound (only the
  // publish waits on the broker), one with the default bound (a depth probe precedes the publish),
  // and one that has not published yet (its first publish must open a channel first).
  let plain: Stack | undefined;
  let bounded: Stack | undefined;
  let cold: Stack | undefined;
  before(async () => {
    proxy = await startFreezeProxy({ port: Number(new URL(AMQP_URL).port || 5672) });
    const apiAmqpUrl = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
    // Three independent stacks (own namespaces): started side by side, each kept for `after` to close.
    const started = await Promise.allSettled([
      startStack({ apiAmqpUrl, publishTimeoutMs, env: { ...noLimits, MAX_QUEUE_DEPTH: "0" } }),
      startStack({ apiAmqpUrl, publishTimeoutMs, env: noLimits }),
      startStack({ apiAmqpUrl, publishTimeoutMs, env: { ...noLimits, MAX_QUEUE_DEPTH: "0" } }),
    ]);
    [plain, bounded, cold] = started.map((r) => (r.status === "fulfilled" ? r.value : undefined));
    for (const r of started) if (r.status === "rejected") throw r.reason;
    // Warm: each API has published once (its confirm channel is open) before the broker stalls.
    await Promise.all([plain, bounded].map((s) => acceptedAndRun(s as Stack)));
  });
  after(async () => {
    proxy?.thaw(); // let the APIs' connections close cleanly
    await plain?.close();
    await bounded?.close();
    await cold?.close();
    await proxy?.close();
  });

  async function acceptedAndRun(s: Stack): Promise<void> {
    // Right after a stall the API may still be reconnecting (a long stall trips the heartbeat).
    const reply = await pollUntil(
      async () => {
        const r = await postJob(s.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } });
        return r.status === 202 ? r : undefined;
      },
      { timeoutMs: 30_000, everyMs: 200, what: "a submit to be accepted" },
    );
    const job = reply.body as { id: string; token: string };
    expect((await pollToEnd(s.baseUrl, job)).at(-1)?.status).to.equal(303);
  }

  async function submitWhileStalled(s: Stack, steps: number): Promise<void> {
    const p = proxy as FreezeProxy;
    p.freeze(); // the link stays up; nothing the broker sends reaches the APIs any more
    try {
      const [reply, ms] = await timed(() => postJob(s.baseUrl, { type: "demo", payload: { steps, stepMs: 0 } }));
      expectBrokerUnavailable(reply, ms, publishTimeoutMs + 10_000);
      expect(ms).to.be.at.least(publishTimeoutMs - 100, "it waited for the confirm");
    } finally {
      p.thaw();
    }
  }

  it("POST answers 503 once PUBLISH_TIMEOUT_MS has passed without a confirm, and keeps no job record", async () => {
    const s = plain as Stack;
    const before = await jobKeys(s.redis, s.names);
    const sent = clientSends(proxy as FreezeProxy, '"steps":7'); // the job's message reaches the broker…
    await submitWhileStalled(s, 7);
    await sent; // …but its confirm never came back: the API may not call it accepted
    expect(await jobKeys(s.redis, s.names)).to.deep.equal(before, "no orphan job record");
    await acceptedAndRun(s);
  });

  it("with the default MAX_QUEUE_DEPTH too: the queue-depth probe does not wait for ever", async () => {
    const s = bounded as Stack;
    const before = await jobKeys(s.redis, s.names);
    await submitWhileStalled(s, 8);
    expect(await jobKeys(s.redis, s.names)).to.deep.equal(before, "no orphan job record");
    await acceptedAndRun(s);
  });

  it("an API's first publish too: opening its publish channel counts against PUBLISH_TIMEOUT_MS", async () => {
    const s = cold as Stack;
    await submitWhileStalled(s, 9);
    expect(await jobKeys(s.redis, s.names)).to.deep.equal([], "no orphan job record");
    await acceptedAndRun(s);
  });
});
