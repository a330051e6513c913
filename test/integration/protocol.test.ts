// The durable core's protocol against the real RabbitMQ and Redis: submit, poll, 303, result.
import { expect } from "chai";
import { z } from "zod";
import { csvSummaryHandler } from "../../services/worker/jobs/csv-summary.ts";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { handle, registry, resource } from "../../shared/worker/handlers.ts";
import { expectSubmitPollResult } from "../contracts/protocol.ts";
import { Gate } from "../helpers/gate.ts";
import { bearer, getStatus, pollToEnd, request, submit } from "../helpers/http.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const resourceJob = defineJobType({
  name: "touch-resource",
  description: "test: returns a resource URI",
  payload: z.strictObject({ id: z.string() }),
});
const bigResultJob = defineJobType({
  name: "big-result",
  description: "test: returns more than the result limit",
  payload: z.strictObject({}),
});

describe("protocol: submit, poll, result", () => {
  const gate = new Gate();
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      handlers: registry([
        demoHandler,
        csvSummaryHandler,
        handle(resourceJob, async ({ id }) => resource(`/widgets/${id}`)),
        handle(bigResultJob, async () => "x".repeat(5_000)),
        gate.handler,
      ]),
      resultLimitBytes: 4_096,
      env: noLimits, // the polls come from one address; the limits have their own tests
    });
  });
  after(() => stack?.close());

  it("202 with Location → queued/running with growing progress and Retry-After → 303 → result", () =>
    expectSubmitPollResult(stack.baseUrl));

  it("a failing job ends 200 failed with a problem object and its attempt count", async () => {
    const job = await submit(stack.baseUrl, "demo", { steps: 4, stepMs: 20, fail: "disk on fire" });
    const seen = await pollToEnd(stack.baseUrl, job);
    const end = seen.at(-1);
    expect(end?.status).to.equal(200);
    expect(end?.headers.get("location")).to.equal(null);
    expect(end?.body.status).to.equal("failed");
    expect(end?.body.error).to.deep.equal({
      type: "urn:herald:problem:job-failed",
      title: "The job's handler failed",
      detail: "disk on fire",
      attempts: 1,
    });
    expect(end?.body.attempts).to.equal(1);
    expect(end?.body.progress.percent).to.equal(50, "it failed after half its steps");
    const result = await request<{ type: string }>(`${stack.baseUrl}/jobs/${job.id}/result`, {
      headers: bearer(job.token),
    });
    expect(result.status).to.equal(409);
    expect(result.body.type).to.equal("urn:herald:problem:job-has-no-result");
  });

  it("the result of an unfinished job is a 409 problem", async () => {
    const job = await submit(stack.baseUrl, "gated", {}); // it ends only when the test says so
    await gate.started(job.id);
    const res = await request<{ type: string; jobStatus: string }>(`${stack.baseUrl}/jobs/${job.id}/result`, {
      headers: bearer(job.token),
    });
    expect(res.status).to.equal(409);
    expect(res.contentType).to.match(/^application\/problem\+json/);
    expect(res.body.type).to.equal("urn:herald:problem:job-not-finished");
    expect(res.body.jobStatus).to.equal("running");
    gate.finish(job.id);
  });

  it("a handler that returns a resource URI sends the status monitor's 303 there", async () => {
    const job = await submit(stack.baseUrl, "touch-resource", { id: "42" });
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1);
    expect(end?.status).to.equal(303);
    expect(end?.headers.get("location")).to.equal("/widgets/42");
    expect(end?.body.resultUrl).to.equal("/widgets/42");
  });

  it("a result over RESULT_LIMIT_BYTES fails the job instead of filling Redis", async () => {
    const job = await submit(stack.baseUrl, "big-result", {});
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1);
    expect(end?.body.status).to.equal("failed");
    expect(end?.body.error?.type).to.equal("urn:herald:problem:result-too-large");
  });

  it("the csv-summary example job summarises a CSV document", async () => {
    const csv = 'city,temp,note\nOslo,3,"cold, windy"\nRome,18,\nLima,,"said ""hi"""\n';
    const job = await submit(stack.baseUrl, "csv-summary", { csv });
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1);
    expect(end?.status).to.equal(303);
    const result = await request<{ rows: number; columns: unknown[] }>(`${stack.baseUrl}/jobs/${job.id}/result`, {
      headers: bearer(job.token),
    });
    expect(result.body.rows).to.equal(3);
    expect(result.body.columns).to.deep.equal([
      { name: "city", values: 3, empty: 0, distinct: 3, numeric: null },
      { name: "temp", values: 2, empty: 1, distinct: 2, numeric: { count: 2, min: 3, max: 18, mean: 10.5 } },
      { name: "note", values: 2, empty: 1, distinct: 2, numeric: null },
    ]);
  });

  it("every status reply carries Cache-Control: no-store and an ETag that follows the version", async () => {
    const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
    const first = await getStatus(stack.baseUrl, job);
    expect(first.headers.get("etag")).to.equal(`"${job.id}.${(first.body as JobView).version}"`);
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1);
    expect(end?.headers.get("etag")).to.equal(`"${job.id}.${end?.body.version}"`);
    expect(end?.headers.get("cache-control")).to.equal("no-store");
  });
});
