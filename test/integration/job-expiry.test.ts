// Issue 7 item 24: JOB_TTL_SECONDS ("how long job records and results stay in Redis after their
// last change"). A finished job's record and result go away that long after its last change (its
// status and result then answer 404, like an unknown job); a job that keeps changing stays.
import { setTimeout as delay } from "node:timers/promises";
import { expect } from "chai";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { Gate } from "../helpers/gate.ts";
import { bearer, getStatus, pollToEnd, request, submit, waitForStatus } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { scanKeys } from "../helpers/redis-keys.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const ttlSeconds = 4;

describe("issue 7 item 24: JOB_TTL_SECONDS expiry", function () {
  this.timeout(90_000);
  const gate = new Gate();
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack({
      handlers: registry([demoHandler, gate.handler]),
      jobTtlSeconds: ttlSeconds,
      env: noLimits,
    });
  });
  after(() => stack?.close());

  it("a finished job's record and result are gone JOB_TTL_SECONDS after its last change: 404", async () => {
    const s = stack as Stack;
    const job = await submit(s.baseUrl, "demo", { steps: 1, stepMs: 0 });
    const end = (await pollToEnd(s.baseUrl, job)).at(-1)?.body as JobView;
    expect(end.status).to.equal("succeeded");
    expect((await request(`${s.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) })).status).to.equal(200);
    for (const key of [s.names.jobKey(job.id), s.names.resultKey(job.id)]) {
      const ms = await s.redis.pTTL(key);
      expect(ms, key).to.be.within(1, ttlSeconds * 1000);
    }
    const gone = await pollUntil(
      async () => {
        const r = await getStatus(s.baseUrl, job);
        return r.status === 404 ? r : undefined;
      },
      { timeoutMs: ttlSeconds * 1000 + 30_000, everyMs: 250, what: "the record to expire" },
    );
    expect(Date.now() - Date.parse(end.updatedAt)).to.be.at.least(ttlSeconds * 1000 - 50, "not before the TTL");
    expect((gone.body as unknown as { type: string }).type).to.equal("urn:herald:problem:not-found");
    const result = await request<{ type: string }>(`${s.baseUrl}/jobs/${job.id}/result`, {
      headers: bearer(job.token),
    });
    expect(result.status).to.equal(404);
    expect(await scanKeys(s.redis, `${s.names.jobKey(job.id)}*`)).to.deep.equal([]);
  });

  it("each change renews it: a job that keeps changing outlives JOB_TTL_SECONDS", async () => {
    const s = stack as Stack;
    const job = await submit(s.baseUrl, "gated", {});
    await gate.started(job.id);
    const created = Date.parse((await getStatus(s.baseUrl, job)).body.createdAt);
    // A change every second (the TTL is 4 s) until the job is older than its TTL by a margin.
    for (let percent = 1; Date.now() - created < (ttlSeconds + 2) * 1000; percent++) {
      await delay(1_000); // the passing of time is what this test is about
      gate.progress(job.id, percent);
      await waitForStatus(s.baseUrl, job, (r) => r.body.progress.percent === percent, { what: `progress ${percent}` });
      expect(await s.redis.pTTL(s.names.jobKey(job.id))).to.be.above((ttlSeconds - 2) * 1000, "renewed by the change");
    }
    const status = await getStatus(s.baseUrl, job);
    expect(status.status).to.equal(200, "older than its TTL, but changed within it");
    gate.finish(job.id);
    await pollToEnd(s.baseUrl, job);
  });
});
