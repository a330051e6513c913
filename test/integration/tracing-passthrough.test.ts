// Issue 10: a process that exports no spans makes none, yet a client's trace context still travels:
// the job's AMQP message carries the client's own traceparent, unchanged (the worker's attempt span
// continues it), and no trace context when the client sent none. Workers stopped: the message is read
// from the queue as the API published it.
import { randomBytes } from "node:crypto";
import amqp from "amqplib";
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { setupTracing, type Tracing } from "../../shared/observability/tracing.ts";
import { postJob } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { AMQP_URL, noLimits, type Stack, startStack } from "../helpers/stack.ts";

describe("issue 10: no exporter, no spans; the client's traceparent still reaches the job's message", function () {
  this.timeout(30_000);
  let tracing: Tracing | undefined;
  let stack: Stack | undefined;

  before(async () => {
    tracing = setupTracing("herald-test", { env: {} }); // no OTLP endpoint, no exporter
    stack = await startStack({ workers: 0, env: { ...noLimits } });
  });
  after(async () => {
    await stack?.close();
    await tracing?.shutdown();
  });

  /** The headers of the queued message of the job `post` submits. */
  async function publishedHeaders(headers: Record<string, string>): Promise<Record<string, unknown>> {
    const s = stack;
    if (!s) throw new Error("no stack");
    const reply = await postJob(s.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 0 } }, headers);
    expect(reply.status).to.equal(202);
    const job = reply.body as AcceptedJob;
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      const msg = await pollUntil(async () => (await ch.get(s.names.jobsQueue, { noAck: true })) || undefined, {
        timeoutMs: 10_000,
        what: "the job's message",
      });
      expect(JSON.parse(msg.content.toString()).jobId).to.equal(job.id);
      return msg.properties.headers ?? {};
    } finally {
      await conn.close();
    }
  }

  it("passes the client's traceparent on unchanged", async () => {
    const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
    const headers = await publishedHeaders({ traceparent });
    expect(String(headers.traceparent)).to.equal(traceparent);
  });

  it("adds no trace context of its own when the client sent none", async () => {
    const headers = await publishedHeaders({});
    expect(headers.traceparent).to.equal(undefined);
    expect(headers["x-request-id"], "the request id still travels").to.be.a("string");
  });
});
