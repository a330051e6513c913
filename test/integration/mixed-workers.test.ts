// Workers that serve different job types in one namespace: all consume the one jobs queue, so a
// worker passes on a job of a type it does not serve (published again, confirmed, then acked) until
// one that serves it takes it. Every job ends succeeded, run once, by a worker that serves its type;
// a job whose type no live worker serves waits, queued, for one to start.
import amqp from "amqplib";
import { expect } from "chai";
import { z } from "zod";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { retryTier } from "../../shared/queue/queue-topology.ts";
import { defineJob } from "../../shared/worker/define-job.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { passOnDelayMs } from "../../shared/worker/unrunnable.ts";
import { bearer, pollToEnd, request, submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { AMQP_URL, type Stack, startStack } from "../helpers/stack.ts";

const ran: { type: string; jobId: string; worker: string }[] = [];
const job = (name: string, worker: string) =>
  defineJob({
    name,
    description: `test: a ${name} job, noted with the worker (${worker}) that ran it`,
    payload: z.strictObject({ n: z.int() }),
    run: async ({ n }, ctx) => {
      ran.push({ type: name, jobId: ctx.jobId, worker });
      return { n, by: worker };
    },
  });

describe("mixed workers: different job types in one namespace", function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      workers: 2,
      handlersFor: (i) => (i === 0 ? registry([job("alpha", "A")]) : registry([job("beta", "B")])),
    });
  });
  after(async () => {
    await stack?.close();
  });

  async function endOf(accepted: AcceptedJob): Promise<JobView> {
    const replies = await pollToEnd(stack.baseUrl, accepted, { timeoutMs: 90_000 });
    const end = replies.at(-1);
    expect(end?.status, JSON.stringify(end?.body)).to.be.oneOf([200, 303]);
    return end?.body as JobView;
  }

  it("runs every job on a worker that serves its type, once; none fails for another worker's type", async () => {
    const submitted = [];
    for (let n = 0; n < 12; n++) {
      submitted.push({ type: "alpha", job: await submit(stack.baseUrl, "alpha", { n }) });
      submitted.push({ type: "beta", job: await submit(stack.baseUrl, "beta", { n }) });
    }
    for (const { type, job: accepted } of submitted) {
      const end = await endOf(accepted);
      expect(end.status, `${type} ${accepted.id}: ${JSON.stringify(end.error)}`).to.equal("succeeded");
      const runs = ran.filter((r) => r.jobId === accepted.id);
      expect(runs, `${accepted.id} ran once`).to.have.length(1);
      expect(runs[0]?.worker).to.equal(type === "alpha" ? "A" : "B");
    }
  });

  it("a job of a type no live worker serves stays queued until a worker for it starts", async () => {
    // gamma is known to the registry (defined by a worker that is gone) but served by nobody now.
    const gammaWorker = await stack.addWorker({ handlers: registry([job("gamma", "G1")]) });
    await gammaWorker.stop();
    const accepted = await submit(stack.baseUrl, "gamma", { n: 1 });
    // The live workers pass it on: it sits in the 1 s retry tier, comes back, is passed on again.
    // Watch it for two and a half such periods, queued throughout and seen in the tier. (Counting
    // rounds by the tier emptying misses them: a pass-on refills the tier within milliseconds.)
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      const tier = stack.names.retryQueue(retryTier(passOnDelayMs));
      const since = Date.now();
      let seenInTier = false;
      await pollUntil(
        async () => {
          const view = (await request(`${stack.baseUrl}/jobs/${accepted.id}`, { headers: bearer(accepted.token) }))
            .body as JobView;
          expect(view.status, "the gamma job waits").to.equal("queued");
          seenInTier ||= (await ch.checkQueue(tier)).messageCount > 0;
          return seenInTier && Date.now() - since >= 2.5 * passOnDelayMs;
        },
        { timeoutMs: 60_000, everyMs: 100, what: "the gamma job passed on, and still queued after two rounds" },
      );
    } finally {
      await conn.close();
    }
    await stack.addWorker({ handlers: registry([job("gamma", "G2")]) });
    const end = await endOf(accepted);
    expect(end.status).to.equal("succeeded");
    expect(ran.filter((r) => r.jobId === accepted.id).map((r) => r.worker)).to.deep.equal(["G2"]);
  });
});
