// Issue 7 item 1: a worker that stops gracefully (SIGTERM: Worker.stop()) and must abort a job
// whose grace period ran out hands the job back without spending an attempt: a job on its last
// attempt then runs again on another worker, instead of failing `attempts-exhausted`.
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import { sleep } from "../../shared/queue/backoff.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { type FaultWorker, startFaultWorker, storedEnd } from "../helpers/fault-worker.ts";
import { submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const lastChance = defineJobType({
  name: "last-chance",
  description: "test: one attempt only; the first run waits until aborted",
  payload: z.strictObject({}),
  retry: { maxAttempts: 1 },
});

describe("issue 7 item 1: a graceful shutdown does not spend an attempt", function () {
  this.timeout(60_000);
  const runs: string[] = [];
  const handlers = (name: string) =>
    registry([
      handle(lastChance, async (_, ctx) => {
        runs.push(name);
        if (name === "first") await sleep(3_600_000, ctx.signal); // until the shutdown aborts it
        return { ranOn: name, attempt: ctx.attempt };
      }),
    ]);
  let stack: Stack | undefined;
  let first: FaultWorker | undefined;
  let second: FaultWorker | undefined;
  before(async () => {
    stack = await startStack({ workers: 0, handlers: handlers("none") });
    first = await startFaultWorker({ names: stack.names, handlers: handlers("first"), shutdownGraceMs: 200 });
  });
  after(async () => {
    await first?.close();
    await second?.close();
    await stack?.close();
  });

  it("a job on its last attempt, aborted by a stopping worker, runs again elsewhere and succeeds", async () => {
    if (!stack || !first) throw new Error("setup failed");
    const store = new RedisJobStore(stack.redis, stack.names, 3600);
    const job = await submit(stack.baseUrl, "last-chance", {});
    await pollUntil(() => runs.includes("first"), { timeoutMs: 15_000, what: "the first worker to run the job" });
    expect((await store.get(job.id))?.attempts).to.equal(1);

    await first.worker.stop(); // grace 200 ms: the handler is aborted and the job handed back
    const handedBack = await store.get(job.id);
    expect(handedBack?.status).to.equal("queued");
    expect(handedBack?.attempts, "the handed-back attempt still counts").to.equal(0);

    second = await startFaultWorker({ names: stack.names, handlers: handlers("second") });
    const end = await storedEnd(store, job.id, 20_000);
    expect(end.status, JSON.stringify(end.error)).to.equal("succeeded");
    expect(end.attempts).to.equal(1);
    expect(JSON.parse((await store.getResult(job.id)) ?? "null")).to.deep.equal({ ranOn: "second", attempt: 1 });
  });
});
