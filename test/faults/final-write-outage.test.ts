// Issue 7 item 2: Redis goes away just as an attempt ends. The worker keeps the delivery and the
// outcome, retries the final write until Redis is back, and only then acks: the handler does not
// run again, and a job on its last attempt does not fail.
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { type FaultWorker, latch, startFaultWorker, storedEnd } from "../helpers/fault-worker.ts";
import { submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const once = defineJobType({
  name: "once",
  description: "test: one attempt; finishes when the test says",
  payload: z.strictObject({}),
  retry: { maxAttempts: 1 },
});

describe("issue 7 item 2: a Redis outage at the end of an attempt keeps the outcome", function () {
  this.timeout(60_000);
  let runs = 0;
  const release = latch();
  let stack: Stack | undefined;
  let worker: FaultWorker | undefined;
  before(async () => {
    const handlers = registry([
      handle(once, async () => {
        runs++;
        await release.promise;
        return { done: true };
      }),
    ]);
    stack = await startStack({ workers: 0, handlers });
    worker = await startFaultWorker({ names: stack.names, handlers, proxyRedis: true, leaseMs: 3_000 });
  });
  after(async () => {
    release.open();
    await worker?.close();
    await stack?.close();
  });

  it("the final write waits for Redis, the handler runs once, the job succeeds", async () => {
    if (!stack || !worker) throw new Error("setup failed");
    const store = new RedisJobStore(stack.redis, stack.names, 3600);
    const job = await submit(stack.baseUrl, "once", {});
    await pollUntil(() => runs === 1, { timeoutMs: 15_000, what: "the job to start" });

    await worker.redisProxy?.cut(); // the worker's Redis is gone when the handler returns
    release.open();
    // Long enough for the lease (3 s) to lapse while the write waits: renewals resume with Redis.
    await new Promise((r) => setTimeout(r, 4_000));
    worker.redisProxy?.resume();

    const end = await storedEnd(store, job.id, 30_000);
    expect(end.status, JSON.stringify(end.error)).to.equal("succeeded");
    expect(end.attempts).to.equal(1);
    expect(runs, "the handler ran again").to.equal(1);
    const retried = worker.log.lines.some(
      (l) => l.msg === "final write failed; retrying until Redis is back" && l.fields.jobId === job.id,
    );
    expect(retried, "the final write met the outage").to.equal(true);
    // Closed, the worker would give back a message it never settled: none is left to be ready.
    await worker.close();
    expect(await stack.apiQueue.depth(), "the message was not settled").to.equal(0);
  });
});
