import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { sleep } from "../../shared/queue/backoff.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { pollToEnd, submit } from "../helpers/http.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const runs = new Map<string, number[]>();
const countedJob = defineJobType({
  name: "counted",
  description: "test: records each run (by worker), then sleeps a little",
  payload: z.strictObject({}),
});

describe("faults: one job message delivered twice at the same moment", function () {
  this.timeout(30_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      workers: 2,
      prefetch: 4,
      leaseMs: 1_000,
      handlersFor: (worker) =>
        registry([
          handle(countedJob, async (_, ctx) => {
            runs.set(ctx.jobId, [...(runs.get(ctx.jobId) ?? []), worker]);
            await sleep(300, ctx.signal);
            return { worker };
          }),
        ]),
    });
  });
  after(() => stack?.close());

  /** A queued job recorded as the API would, with no message published yet. */
  async function createJob(): Promise<{ id: string; token: string }> {
    const { record, token } = newJob("counted");
    await new RedisJobStore(stack.redis, stack.names, 3600).create(record);
    return { id: record.id, token };
  }

  it("runs the job once, and the extra copy is settled without a second run", async () => {
    const jobs = await Promise.all(Array.from({ length: 12 }, () => createJob()));
    // Two copies of each message at once: the two workers start on them together.
    await Promise.all(
      jobs.flatMap((j) =>
        [1, 2].map(() => stack.apiQueue.publish({ v: 1, jobId: j.id, type: "counted", payload: {} })),
      ),
    );
    for (const job of jobs) {
      const end = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
      expect(end.status).to.equal("succeeded");
      expect(end.attempts, `attempts of ${job.id}`).to.equal(1);
    }
    const doubled = jobs.filter((j) => (runs.get(j.id)?.length ?? 0) !== 1);
    expect(doubled.map((j) => `${j.id}: ${runs.get(j.id)}`)).to.deep.equal([]);
    // Every copy was settled: a job submitted now runs, and nothing is left in the queue.
    await pollToEnd(stack.baseUrl, await submit(stack.baseUrl, "counted", {}));
    expect(await stack.apiQueue.depth()).to.equal(0);
  });
});
