// Issue 7 item 24 (found while testing cancel-in-retry): a worker's graceful stop lets a running
// job finish within its grace period (README: "lets running jobs finish within SHUTDOWN_GRACE_MS
// … and exits: nothing is lost"). The job's message must then be acked for good: if the ack is
// still in amqplib's buffers when the connection closes, RabbitMQ requeues the message and the
// job's message is delivered again (a finished job's is skipped; a retry's runs at once, without
// its backoff, and then once more from its tier). Checked here on amqplib 2.3.1: `ch.ack(m)`
// followed at once by `connection.close()` requeued the message 20 times in 20; closing the
// channel first (its CloseOk comes after the ack) lost none.
import amqp from "amqplib";
import { expect } from "chai";
import type { Names } from "../../shared/store/names.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { Gate } from "../helpers/gate.ts";
import { submit, waitForStatus } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { AMQP_URL, noLimits, type Stack, startStack } from "../helpers/stack.ts";

async function jobsQueue(n: Names): Promise<{ ready: number; consumers: number }> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const q = await (await conn.createChannel()).checkQueue(n.jobsQueue);
    return { ready: q.messageCount, consumers: q.consumerCount };
  } finally {
    await conn.close();
  }
}

describe("issue 7 item 24: a worker's graceful stop keeps the acks of the jobs it finished", function () {
  this.timeout(60_000);
  const gate = new Gate();
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack({ workers: 0, handlers: registry([gate.handler]), env: noLimits });
  });
  after(() => stack?.close());

  it("a job that finishes during stop() is not delivered again", async () => {
    const s = stack as Stack;
    const w = await s.addWorker();
    const job = await submit(s.baseUrl, "gated", {});
    await gate.started(job.id);
    const stopping = w.stop(); // stop consuming, let the running job finish, close the connection
    await pollUntil(async () => (await jobsQueue(s.names)).consumers === 0, { what: "the consumer to be cancelled" });
    gate.finish(job.id); // within the worker's grace period
    await stopping;
    await waitForStatus(s.baseUrl, job, (r) => r.body.status === "succeeded", { what: "succeeded" });
    expect(await jobsQueue(s.names)).to.deep.equal({ ready: 0, consumers: 0 }, "its message was acked for good");
  });
});
