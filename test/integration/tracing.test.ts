// Issue 11 (Traces): a W3C traceparent on POST /jobs (or a new trace the API starts) follows the
// job through the AMQP message headers into the worker's attempt span, whose events are the job's
// changes. In-process API and worker (test/helpers/stack.ts), spans kept by an in-memory exporter.
import { randomBytes } from "node:crypto";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { SpanKind, setupTracing, type Tracing } from "../../shared/observability/tracing.ts";
import { pollToEnd, postJob } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

describe("issue 11 (Traces): one trace from POST /jobs to the worker's attempt", function () {
  this.timeout(30_000);
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing | undefined;
  let stack: Stack | undefined;

  before(async () => {
    tracing = setupTracing("herald-test", { exporter });
    stack = await startStack({ env: { ...noLimits } });
  });
  after(async () => {
    await stack?.close();
    await tracing?.shutdown();
  });

  const spans = () => exporter.getFinishedSpans();
  const submitSpan = (): ReadableSpan | undefined =>
    spans().find(
      (s) =>
        s.kind === SpanKind.SERVER &&
        s.attributes["url.path"] === "/jobs" &&
        s.attributes["http.request.method"] === "POST",
    );
  const attemptSpans = (jobId: string) => spans().filter((s) => s.attributes["herald.job.id"] === jobId);

  async function run(
    headers: Record<string, string>,
  ): Promise<{ job: AcceptedJob; api: ReadableSpan; attempt: ReadableSpan }> {
    exporter.reset();
    const reply = await postJob(stack?.baseUrl ?? "", { type: "demo", payload: { steps: 2, stepMs: 10 } }, headers);
    expect(reply.status).to.equal(202);
    const job = reply.body as AcceptedJob;
    const seen = await pollToEnd(stack?.baseUrl ?? "", job, { timeoutMs: 20_000 });
    expect(seen.at(-1)?.body.status).to.equal("succeeded");
    const attempt = await pollUntil(() => attemptSpans(job.id)[0], { timeoutMs: 10_000, what: "the attempt span" });
    const api = submitSpan();
    if (!api) throw new Error("no server span for POST /jobs");
    return { job, api, attempt };
  }

  it("continues the client's traceparent: the API's span and the worker's attempt span share its trace id", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parentId = randomBytes(8).toString("hex");
    const { api, attempt } = await run({ traceparent: `00-${traceId}-${parentId}-01` });
    expect(api.spanContext().traceId).to.equal(traceId);
    expect(api.parentSpanContext?.spanId).to.equal(parentId);
    expect(api.name).to.equal("POST /jobs");
    expect(api.attributes["http.response.status_code"]).to.equal(202);
    expect(attempt.spanContext().traceId).to.equal(traceId);
    expect(attempt.kind).to.equal(SpanKind.CONSUMER);
    expect(attempt.parentSpanContext?.traceId).to.equal(traceId);
  });

  it("starts a new trace when none is sent, and the attempt span joins it", async () => {
    const { api, attempt } = await run({});
    expect(api.parentSpanContext).to.equal(undefined);
    expect(attempt.spanContext().traceId).to.equal(api.spanContext().traceId);
    expect(attempt.parentSpanContext?.spanId).to.equal(api.spanContext().spanId);
  });

  it("names each poll's server span after its route (the status URL's fast path sets it as the router does)", async () => {
    const { job } = await run({});
    const polls = spans().filter((s) => s.kind === SpanKind.SERVER && s.attributes["url.path"] === `/jobs/${job.id}`);
    expect(polls).to.not.have.length(0);
    for (const s of polls) expect(s.name).to.equal("GET /jobs/:id");
  });

  it("records the job's changes during the attempt as events of its span, up to the final status", async () => {
    const { attempt } = await run({});
    const statuses = attempt.events
      .filter((e) => e.name === "job changed")
      .map((e) => e.attributes?.["herald.job.status"]);
    expect(statuses.length).to.be.greaterThan(1);
    expect(statuses.at(-1)).to.equal("succeeded");
  });
});
