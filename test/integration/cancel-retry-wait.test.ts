// Issue 7 item 24: cancelling a job while it waits in a retry tier (README: "While waiting the job
// is queued with retryAt"; "A queued job becomes canceled at once; its message is skipped when
// dequeued"). The retry message still comes back from its tier when its TTL runs out: the worker
// that dequeues it must ack it without running the handler again or moving the job.
//
// Deterministic: no worker consumes between the first attempt and the cancel, so the retry
// cannot start first however slow the machine is.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp from "amqplib";
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { retryTiersMs } from "../../shared/queue/queue-topology.ts";
import type { Names } from "../../shared/store/names.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { bearer, getStatus, request, submit, waitForStatus } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { AMQP_URL, noLimits, type Stack, startStack } from "../helpers/stack.ts";

const run = promisify(execFile);
const runs = new Map<string, number>();
const alwaysFails = defineJobType({
  name: "always-fails",
  description: "test: every attempt fails (retryably)",
  payload: z.strictObject({}),
  retry: { maxAttempts: 3, backoffBaseMs: 2_000, backoffMaxMs: 2_000 },
});
const handlers = registry([
  handle(alwaysFails, async (_, ctx) => {
    runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
    throw new Error(`attempt ${ctx.attempt} failed`);
  }),
]);

/** Messages waiting in the jobs queue and in every retry tier (ready ones; unacked are not counted). */
async function waiting(n: Names): Promise<{ jobs: number; tiers: number }> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const jobs = (await ch.checkQueue(n.jobsQueue)).messageCount;
    let tiers = 0;
    for (const t of retryTiersMs) tiers += (await ch.checkQueue(n.retryQueue(t))).messageCount;
    return { jobs, tiers };
  } finally {
    await conn.close();
  }
}

/** Messages delivered but not yet acked, as the broker counts them. */
async function unacked(queue: string): Promise<number> {
  const { stdout } = await run("rabbitmqctl", ["-q", "list_queues", "name", "messages_unacknowledged"], {
    timeout: 20_000,
  });
  const line = stdout.split("\n").find((l) => l.split("\t")[0] === queue);
  if (!line) throw new Error(`no queue ${queue}`);
  return Number(line.split("\t")[1]);
}

describe("issue 7 item 24: cancel while the job waits in a retry tier", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack({ workers: 0, handlers, env: noLimits });
  });
  after(() => stack?.close());

  it("DELETE cancels it at once; the retry message, when it comes back, is acked without a second run", async () => {
    const s = stack as Stack;
    const first = await s.addWorker();
    const job = await submit(s.baseUrl, "always-fails", {});
    const waitingRetry = await waitForStatus(
      s.baseUrl,
      job,
      (r) => r.body.status === "queued" && r.body.attempts === 1 && r.body.retryAt !== undefined,
      { what: "queued for its retry after attempt 1" },
    );
    expect(waitingRetry.body.error?.detail).to.equal("attempt 1 failed");
    // Nobody consumes now: the retry cannot start before the cancel. (The worker's connection stays
    // open, so the first delivery's ack reaches the broker; see worker-stop-acks.test.ts.)
    await first.worker.stop();
    const before = await waiting(s.names);
    expect(before.jobs + before.tiers).to.equal(1, "its retry message waits (in its tier, or back in the queue)");

    const del = await request<JobView>(`${s.baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
    expect(del.status).to.equal(200, "a job waiting for a retry is queued: canceled at once");
    expect(del.body.status).to.equal("canceled");
    expect(del.body.retryAt).to.equal(undefined, "no retry is due any more");
    expect(del.body.attempts).to.equal(1);

    // A worker again: the message comes back from its tier (TTL ≤ 2 s) and is consumed.
    const second = await s.addWorker();
    await pollUntil(
      async () => {
        const now = await waiting(s.names);
        return now.jobs + now.tiers === 0;
      },
      { timeoutMs: 30_000, everyMs: 200, what: "the retry message to be consumed" },
    );
    await second.worker.stop(); // it is done with every delivery it had
    await pollUntil(async () => (await unacked(s.names.jobsQueue)) === 0, {
      timeoutMs: 30_000,
      everyMs: 500,
      what: "the retry message to be acked",
    });
    expect(await waiting(s.names)).to.deep.equal({ jobs: 0, tiers: 0 }, "acked, not requeued");
    expect(runs.get(job.id)).to.equal(1, "the handler never ran again");
    const after = await getStatus(s.baseUrl, job);
    expect(after.body.status).to.equal("canceled");
    expect(after.body.version).to.equal(del.body.version, "nothing moved the job after the cancel");
  });
});
