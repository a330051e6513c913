// Several jobs at once over two workers: every job runs exactly once, both workers share the
// load, and prefetch 1 means one job at a time per worker.
import amqp from "amqplib";
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { sleep } from "../../shared/queue/backoff.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { bearer, pollToEnd, request, submit } from "../helpers/http.ts";
import { AMQP_URL, type Stack, startStack } from "../helpers/stack.ts";

const recordJob = defineJobType({
  name: "record-worker",
  description: "test: notes which worker ran it, then sleeps a little",
  payload: z.strictObject({ n: z.int() }),
});

interface Run {
  jobId: string;
  worker: number;
  attempt: number;
}

describe("workers: many jobs, two workers", () => {
  const jobCount = 30;
  const runs: Run[] = [];
  const inFlight = [0, 0];
  const maxInFlight = [0, 0];
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      workers: 2,
      prefetch: 1,
      handlersFor: (worker) =>
        registry([
          handle(recordJob, async ({ n }, ctx) => {
            runs.push({ jobId: ctx.jobId, worker, attempt: ctx.attempt });
            inFlight[worker] = (inFlight[worker] ?? 0) + 1;
            maxInFlight[worker] = Math.max(maxInFlight[worker] ?? 0, inFlight[worker] ?? 0);
            try {
              await sleep(25, ctx.signal);
            } finally {
              inFlight[worker] = (inFlight[worker] ?? 0) - 1;
            }
            return { n, worker };
          }),
        ]),
    });
  });
  after(() => stack?.close());

  it(`${jobCount} concurrent submits all succeed, each run exactly once, spread over both workers`, async () => {
    const jobs: AcceptedJob[] = await Promise.all(
      Array.from({ length: jobCount }, (_, n) => submit(stack.baseUrl, "record-worker", { n })),
    );
    expect(new Set(jobs.map((j) => j.id)).size).to.equal(jobCount);

    const ends = await Promise.all(jobs.map(async (j) => (await pollToEnd(stack.baseUrl, j, { everyMs: 30 })).at(-1)));
    for (const end of ends) {
      expect(end?.status, JSON.stringify(end?.body)).to.equal(303);
      expect(end?.body.status).to.equal("succeeded");
      expect(end?.body.attempts).to.equal(1);
    }

    const perJob = new Map<string, number>();
    for (const r of runs) perJob.set(r.jobId, (perJob.get(r.jobId) ?? 0) + 1);
    expect([...perJob.keys()]).to.have.members(jobs.map((j) => j.id));
    for (const [jobId, count] of perJob) expect(count, `runs of ${jobId}`).to.equal(1);
    expect(runs.every((r) => r.attempt === 1)).to.equal(true, "every handler saw attempt 1");

    const perWorker = [0, 1].map((w) => runs.filter((r) => r.worker === w).length);
    expect(perWorker[0], "worker 0 ran some").to.be.greaterThan(0);
    expect(perWorker[1], "worker 1 ran some").to.be.greaterThan(0);
    expect(maxInFlight, "prefetch 1: one job at a time per worker").to.deep.equal([1, 1]);

    // Each result names the worker that recorded the run, and its own input.
    const results = await Promise.all(
      jobs.map((j) =>
        request<{ n: number; worker: number }>(`${stack.baseUrl}/jobs/${j.id}/result`, {
          headers: bearer(j.token),
        }),
      ),
    );
    results.forEach((r, n) => {
      const job = jobs[n];
      expect(r.status).to.equal(200);
      expect(r.body.n).to.equal(n);
      expect(r.body.worker).to.equal(runs.find((run) => run.jobId === job?.id)?.worker);
    });
  });

  it("leaves the jobs queue empty and nothing dead-lettered", async () => {
    const depth = await stack.apiQueue.depth();
    expect(depth).to.equal(0);
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      expect((await ch.checkQueue(stack.names.deadLetterQueue)).messageCount).to.equal(0);
    } finally {
      await conn.close();
    }
  });
});
