// Issue 7 item 4: a cancel request wins at the final write. The control message (Redis pub/sub,
// at most once) can be lost: here the worker's control connection is cut when DELETE publishes it.
// The job still ends `canceled`, never `succeeded`, and no result is kept.
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { type FaultWorker, latch, startFaultWorker, storedEnd } from "../helpers/fault-worker.ts";
import { bearer, request, submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const quiet = defineJobType({
  name: "quiet",
  description: "test: reports no progress, ignores its signal, finishes when the test says",
  payload: z.strictObject({}),
});

describe("issue 7 item 4: cancellation wins at the final write", function () {
  this.timeout(60_000);
  let started = 0;
  let returned = 0;
  const release = latch();
  let stack: Stack | undefined;
  let worker: FaultWorker | undefined;
  before(async () => {
    const handlers = registry([
      handle(quiet, async () => {
        started++;
        await release.promise; // deaf to ctx.signal: it would finish `succeeded` if allowed
        returned++;
        return { finished: true };
      }),
    ]);
    stack = await startStack({ workers: 0, handlers });
    // Its Redis (commands and control subscription) goes through a proxy the test cuts. A long
    // lease: renewals (which also notice cancellation) do not come round during the test.
    worker = await startFaultWorker({ names: stack.names, handlers, proxyRedis: true, leaseMs: 600_000 });
  });
  after(async () => {
    release.open();
    await worker?.close();
    await stack?.close();
  });

  it("a cancel whose control message is lost still ends the job canceled, not succeeded", async () => {
    if (!stack || !worker) throw new Error("setup failed");
    const store = new RedisJobStore(stack.redis, stack.names, 3600);
    const job = await submit(stack.baseUrl, "quiet", {});
    await pollUntil(() => started === 1, { timeoutMs: 15_000, what: "the job to start" });

    await worker.redisProxy?.cut(); // the cancel message published now never reaches this worker
    const del = await request(`${stack.baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
    expect(del.status).to.equal(202);
    // The handler returns while the worker is still cut off: no renewal and no resubscription can
    // abort it first, so only the final write (retried until Redis is back) can honour the cancel.
    release.open();
    await pollUntil(() => returned === 1, { timeoutMs: 15_000, what: "the handler to return" });
    await worker.logged("final write failed; retrying until Redis is back", job.id);
    worker.redisProxy?.resume();

    const end = await storedEnd(store, job.id, 20_000);
    expect(end.status).to.equal("canceled");
    expect(await store.getResult(job.id), "a canceled job keeps no result").to.equal(null);
    const result = await request(`${stack.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
    expect(result.status).to.equal(409);
  });
});
