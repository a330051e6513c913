// Issue 7 item 24: the API's graceful shutdown as README.md#failures-retries-and-cancellation says
// it: the instance turns not ready (`/readyz` 503), refuses new submits (`503 shutting-down`, so a
// client retries elsewhere), answers held requests at once, and finishes requests in flight.
// Real HTTP against an in-process API (test/e2e/api-shutdown.test.ts does it with SIGTERM).
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { bearer, getStatus, postJob, postWithHeldBody, request, submit } from "../helpers/http.ts";
import { subscribed } from "../helpers/realtime.ts";
import { jobKeys } from "../helpers/redis-keys.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const demo = { type: "demo", payload: { steps: 1, stepMs: 0 } };

function expectShuttingDown(reply: { status: number; headers: Headers; body: unknown }): void {
  expect(reply.status, JSON.stringify(reply.body)).to.equal(503);
  expect((reply.body as { type?: string }).type).to.equal("urn:herald:problem:shutting-down");
  expect(Number(reply.headers.get("retry-after"))).to.be.greaterThan(0);
}

describe("issue 7 item 24: API shutdown (503 shutting-down, /readyz)", () => {
  let stack: Stack | undefined;
  beforeEach(async () => {
    // No worker: a job stays queued at its first version while the instance stops.
    stack = await startStack({ workers: 0, env: noLimits });
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it("once shutdown begins, /readyz answers 503 and POST /jobs 503 shutting-down; reads are still served", async () => {
    const s = stack as Stack;
    const job = await submit(s.baseUrl, "demo", demo.payload);
    expect((await request(`${s.baseUrl}/readyz`)).status).to.equal(200);
    const keysBefore = await jobKeys(s.redis, s.names);

    s.api.stopAccepting(); // the first step of the API's shutdown (services/api/main.ts)

    const ready = await request<{ status: string; checks: Record<string, boolean> }>(`${s.baseUrl}/readyz`);
    expect(ready.status).to.equal(503);
    expect(ready.body.status).to.equal("not ready");
    expect(Object.values(ready.body.checks)).to.include(false);
    expectShuttingDown(await postJob(s.baseUrl, demo));
    expect(await jobKeys(s.redis, s.names)).to.deep.equal(keysBefore, "nothing recorded");
    const status = await getStatus(s.baseUrl, job);
    expect(status.status).to.equal(200, "a job's reads go on until the server closes");
    expect((await request(`${s.baseUrl}/healthz`)).status).to.equal(200, "the process is still up");
  });

  it("a submit in flight when the server closes is answered 503 shutting-down; a held long poll at once", async () => {
    const s = stack as Stack;
    const job = await submit(s.baseUrl, "demo", demo.payload);
    const first = await getStatus(s.baseUrl, job);
    const keysBefore = await jobKeys(s.redis, s.names);
    // A long poll holding a version nothing will change (no worker), and a submit whose body
    // has not arrived yet: both are in flight when close() starts.
    const held = request<JobView>(`${s.baseUrl}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), "if-none-match": first.headers.get("etag") ?? "", prefer: "wait=60" },
    });
    await subscribed(s.redis, s.names.jobEventsChannel(job.id));
    const upload = postWithHeldBody(`${s.baseUrl}/jobs`, JSON.stringify(demo));
    await upload.continued;
    const started = Date.now();

    const closed = s.api.close();

    const answer = await held;
    expect(answer.status).to.equal(304, "answered at shutdown with what it had");
    expect(Date.now() - started).to.be.below(30_000, "not after the 60 s wait");
    expectShuttingDown(await upload.send());
    await closed; // in-flight requests done, server closed
    expect(await jobKeys(s.redis, s.names)).to.deep.equal(keysBefore, "the refused submit left nothing");
    const after = await request(`${s.baseUrl}/readyz`).then(
      (r) => r.status,
      () => "refused",
    );
    expect(after).to.equal("refused", "a closed instance takes no new connections");
  });
});
