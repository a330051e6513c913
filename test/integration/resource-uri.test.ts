// Issue 7 item 14, API side: a stored resource URI is served only once it passes the allow-list
// and is encoded. Records are seeded as a worker that predates the check (or a narrowed
// RESOURCE_ORIGINS) would have left them: the API must answer neither 500 nor an off-list redirect.
import { expect } from "chai";
import type { JobView, Problem } from "../../shared/jobs/schemas.ts";
import { transition } from "../../shared/store/job-store.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { bearer, getStatus, request } from "../helpers/http.ts";
import { readSse } from "../helpers/realtime.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("issue 7 item 14: resource URIs served by the API", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { RESOURCE_ORIGINS: "https://files.example.com" } });
  });
  after(() => stack?.close());

  /** A job that succeeded with `resource(uri)`, written straight to the store. */
  async function succeededWith(uri: string): Promise<{ id: string; token: string }> {
    const store = new RedisJobStore(stack.redis, stack.names, 3600);
    const { record, token } = newJob("demo");
    await store.create(record);
    const now = new Date().toISOString();
    const done = await transition(store, record.id, () => ({
      status: "succeeded",
      attempts: 1,
      startedAt: now,
      finishedAt: now,
      progress: { percent: 100 },
      result: { kind: "resource", uri },
    }));
    expect(done?.status).to.equal("succeeded");
    return { id: record.id, token };
  }

  const served = [
    ["/widgets/42", "/widgets/42"],
    ["/widgets/ünïcode?q=Zoë", "/widgets/%C3%BCn%C3%AFcode?q=Zo%C3%AB"],
    ["https://files.example.com/r/7", "https://files.example.com/r/7"],
  ] as const;
  for (const [stored, location] of served) {
    it(`serves ${JSON.stringify(stored)} as ${location} on the status monitor, /result and SSE`, async () => {
      const job = await succeededWith(stored);
      const status = await getStatus(stack.baseUrl, job);
      expect(status.status).to.equal(303);
      expect(status.headers.get("location")).to.equal(location);
      expect(status.body.resultUrl).to.equal(location);
      const result = await request(`${stack.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.status).to.equal(303);
      expect(result.headers.get("location")).to.equal(location);
      const sse = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(job.token));
      expect(sse.events.map((e) => e.view.resultUrl)).to.deep.equal([location]);
    });
  }

  const refused = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "/ok\r\nSet-Cookie: stolen=1",
    "javascript:alert(1)",
  ];
  for (const stored of refused) {
    it(`never redirects to, nor fails on, ${JSON.stringify(stored)}: 303 to /result, which is a 409 problem`, async () => {
      const job = await succeededWith(stored);
      const status = await getStatus(stack.baseUrl, job);
      expect(status.status).to.equal(303);
      expect(status.headers.get("location")).to.equal(`/jobs/${job.id}/result`);
      expect((status.body as JobView).resultUrl).to.equal(`/jobs/${job.id}/result`);
      expect(status.headers.get("set-cookie")).to.equal(null);
      const result = await request<Problem>(`${stack.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.status).to.equal(409);
      expect(result.headers.get("location")).to.equal(null);
      expect(result.contentType).to.match(/^application\/problem\+json/);
      expect(result.body.type).to.equal("urn:herald:problem:invalid-resource");
      const sse = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(job.token));
      expect(sse.events.map((e) => e.view.resultUrl)).to.deep.equal([`/jobs/${job.id}/result`]);
    });
  }
});
