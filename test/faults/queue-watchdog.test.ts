// Issue 7 items 6 and 7: a `queued` job whose message is gone is published again by the queue
// watchdog (shared/recovery/sweeper.ts, in every API and worker) once it is overdue by QUEUE_WATCHDOG_MS:
//  - item 6: a retry whose message was lost in its retry tier (classic-queue dead-lettering is at
//    most once; here the tier queue is purged while the retry waits);
//  - item 7: a job recorded by an API that died before its publish was confirmed (the record and
//    its payload exist, no message does).
// Republishing is once per version of the job, however many sweepers run.
import amqp from "amqplib";
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import { retryTier } from "../../shared/queue/queue-topology.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { storedEnd } from "../helpers/fault-worker.ts";
import { submit } from "../helpers/http.ts";
import { type JobHistory, watchJobHistory } from "../helpers/job-history.ts";
import { pollUntil } from "../helpers/net.ts";
import { AMQP_URL, REDIS_URL, type Stack, startStack } from "../helpers/stack.ts";

const runs = new Map<string, number[]>();
const retryOnce = defineJobType({
  name: "retry-once",
  description: "test: the first attempt fails (retryably), the next succeeds",
  payload: z.strictObject({ tag: z.string().default("") }),
  retry: { maxAttempts: 3, backoffBaseMs: 4_000, backoffMaxMs: 4_000 },
});

describe("issue 7 items 6 and 7: the queue watchdog republishes jobs whose message is missing", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  let history: JobHistory | undefined;
  let store: RedisJobStore | undefined;
  before(async () => {
    stack = await startStack({
      workers: 2, // with the API, three sweepers race for every overdue job
      queueWatchdogMs: 1_500,
      handlers: registry([
        handle(retryOnce, async (_, ctx) => {
          runs.set(ctx.jobId, [...(runs.get(ctx.jobId) ?? []), ctx.attempt]);
          if (ctx.attempt === 1) throw new Error("first attempt fails");
          return { attempt: ctx.attempt };
        }),
      ]),
    });
    history = await watchJobHistory(REDIS_URL, stack.names);
    store = new RedisJobStore(stack.redis, stack.names, 3600);
  });
  after(async () => {
    await history?.close();
    await stack?.close();
  });

  const ended = (id: string) => storedEnd(store as RedisJobStore, id);

  it("item 6: a retry whose message was lost in its retry tier still runs, once", async () => {
    if (!stack || !store || !history) throw new Error("setup failed");
    const job = await submit(stack.baseUrl, "retry-once", { tag: "lost-retry" });
    const waiting = await pollUntil(
      async () => {
        const r = await store?.get(job.id);
        return r?.status === "queued" && r.retryAt ? r : null;
      },
      { timeoutMs: 15_000, what: "the job to wait for its retry" },
    );
    // The retry message sits in its tier queue for 4 s: lose it there.
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      const purged = await ch.purgeQueue(stack.names.retryQueue(retryTier(4_000)));
      expect(purged.messageCount, "the retry message was in its tier").to.equal(1);
      await ch.close();
    } finally {
      await conn.close();
    }
    expect(Date.parse(waiting.retryAt ?? "")).to.be.greaterThan(Date.now());
    const end = await ended(job.id);
    expect(end.status).to.equal("succeeded");
    expect(end.attempts).to.equal(2);
    expect(runs.get(job.id)).to.deep.equal([1, 2]);
    expect(history.succeededCommits(job.id)).to.equal(1);
  });

  it("item 7: a job recorded without a confirmed message (its API died) is published and runs, once", async () => {
    if (!stack || !store || !history) throw new Error("setup failed");
    // What an API leaves when it dies between recording the job and the publisher confirm.
    const { record } = newJob("retry-once");
    const orphan: JobRecord = { ...record, attempts: 1 }; // its first attempt "failed" already: the next succeeds
    await store.create(orphan, { payload: { tag: "orphan" } });
    const end = await ended(orphan.id);
    expect(end.status).to.equal("succeeded");
    expect(runs.get(orphan.id)).to.deep.equal([2]);
    expect(history.succeededCommits(orphan.id)).to.equal(1);
    expect(await stack.apiQueue.depth(), "a second copy is left in the queue").to.equal(0);
  });
});
