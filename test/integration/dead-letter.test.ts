// Garbage on the jobs queue: every message that can never run is dead-lettered (kept for an
// operator), its job (if any) ends `failed` with a reason, and the worker keeps working.
import { randomUUID } from "node:crypto";
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from "amqplib";
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { pollToEnd, submit } from "../helpers/http.ts";
import { AMQP_URL, type Stack, startStack } from "../helpers/stack.ts";

describe("dead-letter: messages that can never run", () => {
  let stack: Stack;
  let conn: ChannelModel;
  let ch: ConfirmChannel;
  let store: RedisJobStore;

  before(async () => {
    stack = await startStack();
    conn = await amqp.connect(AMQP_URL);
    ch = await conn.createConfirmChannel();
    store = new RedisJobStore(stack.redis, stack.names, 600);
  });
  after(async () => {
    await conn?.close();
    await stack?.close();
  });

  /** Publishes straight to the jobs exchange, as a buggy or malicious producer would; waits for the confirm. */
  async function publishRaw(body: string | Buffer): Promise<void> {
    ch.publish(stack.names.jobsExchange, stack.names.jobsRoutingKey, Buffer.from(body), { persistent: true });
    await ch.waitForConfirms();
  }

  /** A job record as the API would create it, with a token we know, so we can poll it over HTTP. */
  async function createJob(type: string): Promise<{ id: string; token: string }> {
    const { record, token } = newJob(type);
    await store.create(record);
    return { id: record.id, token };
  }

  /** Reads the dead-letter queue until `count` messages came, or the deadline passes. */
  async function drainDeadLetters(count: number, timeoutMs = 5_000): Promise<GetMessage[]> {
    const got: GetMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (got.length < count && Date.now() < deadline) {
      const msg = await ch.get(stack.names.deadLetterQueue, { noAck: true });
      if (msg) got.push(msg);
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return got;
  }

  it("dead-letters non-JSON and schema-violating messages; fails their jobs; keeps working", async () => {
    const badPayload = await createJob("demo");
    const badSchema = await createJob("demo");
    const garbage = [
      "this is not JSON {",
      JSON.stringify({ hello: "world" }),
      JSON.stringify({ v: 2, jobId: badSchema.id, type: "demo", payload: {} }),
      JSON.stringify({ v: 1, jobId: badPayload.id, type: "demo", payload: { steps: 0 } }),
    ];
    for (const body of garbage) await publishRaw(body);

    const dead = await drainDeadLetters(garbage.length);
    expect(dead.map((m) => m.content.toString("utf8"))).to.have.members(garbage);
    for (const m of dead) {
      const death = (m.properties.headers?.["x-death"] as { queue: string; reason: string }[] | undefined)?.[0];
      expect(death?.queue).to.equal(stack.names.jobsQueue);
      expect(death?.reason).to.equal("rejected");
    }

    const endOf = async (job: { id: string; token: string }): Promise<JobView> => {
      const end = (await pollToEnd(stack.baseUrl, job)).at(-1);
      expect(end?.status).to.equal(200);
      return end?.body as JobView;
    };
    for (const job of [badPayload, badSchema]) {
      const end = await endOf(job);
      expect(end.status).to.equal("failed");
      expect(end.error?.type).to.equal("urn:herald:problem:invalid-message");
    }

    // The worker is still consuming: a normal job succeeds.
    const ok = await submit(stack.baseUrl, "demo", { steps: 2, stepMs: 10 });
    const end = (await pollToEnd(stack.baseUrl, ok)).at(-1);
    expect(end?.status).to.equal(303);
    expect(end?.body).to.include({ status: "succeeded", attempts: 1 });

    // Nothing was requeued to loop forever, and nothing more was dead-lettered.
    expect(await stack.apiQueue.depth()).to.equal(0);
    expect((await ch.checkQueue(stack.names.deadLetterQueue)).messageCount).to.equal(0);
  });

  it("a message for a job that does not exist is dead-lettered too and creates no record", async () => {
    const ghost = randomUUID();
    const body = JSON.stringify({ v: 1, jobId: ghost, type: "teleport", payload: {} });
    await publishRaw(body);
    const dead = await drainDeadLetters(1);
    expect(dead.map((m) => m.content.toString("utf8"))).to.deep.equal([body]);
    expect(await stack.redis.exists(stack.names.jobKey(ghost))).to.equal(0);
  });
});
