// The protocol as a client sees it, as checks any Herald can be put through: one API in process
// (test/integration/protocol.test.ts), or several API processes behind nginx on a Redis Cluster and
// a RabbitMQ cluster (test/faults/clusters.test.ts). Each takes the base URL of a Herald that runs
// the bundled `demo` job type.
import { expect } from "chai";
import { isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import { bearer, isRunning, pollToEnd, request, submit, waitForStatus } from "../helpers/http.ts";

/** POST → 202 with Location → queued/running with growing progress and Retry-After → 303 → result. */
export async function expectSubmitPollResult(baseUrl: string): Promise<void> {
  const res = await request<Record<string, unknown>>(`${baseUrl}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "demo", payload: { steps: 5, stepMs: 250 } }),
  });
  expect(res.status).to.equal(202);
  const body = res.body as { id: string; token: string; statusUrl: string };
  expect(res.headers.get("location")).to.equal(`/jobs/${body.id}`);
  expect(body.statusUrl).to.equal(`/jobs/${body.id}`);
  expect(Number(res.headers.get("retry-after"))).to.be.greaterThan(0);
  expect(res.body).to.include({ type: "demo", status: "queued" });
  expect(res.body).to.have.keys(
    "id",
    "type",
    "status",
    "version",
    "attempts",
    "progress",
    "createdAt",
    "updatedAt",
    "statusUrl",
    "token",
  );
  expect(body.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const seen = await pollToEnd(baseUrl, body, { everyMs: 40 });
  const live = seen.filter((r) => r.body.status === "queued" || r.body.status === "running");
  expect(live.some((r) => r.body.status === "running")).to.equal(true);
  for (const r of live) {
    expect(r.status).to.equal(200);
    expect(Number(r.headers.get("retry-after"))).to.be.within(1, 30);
    expect(r.headers.get("cache-control")).to.equal("no-store");
  }
  const percents = live.map((r) => r.body.progress.percent);
  expect(percents).to.deep.equal(
    [...percents].sort((a, b) => a - b),
    "progress never goes back",
  );
  expect(new Set(percents).size).to.be.greaterThan(2, "progress grew in steps");
  const running = live.find((r) => r.body.status === "running" && r.body.progress.percent > 0);
  expect(running?.body.progress.message).to.match(/^step \d of 5$/);
  expect(running?.body.progress.etaSeconds).to.be.a("number");

  const versions = seen.map((r) => r.body.version);
  expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
  const etags = new Map(seen.map((r) => [r.body.version, r.headers.get("etag")]));
  expect(new Set(etags.values()).size).to.equal(etags.size, "one ETag per version");

  const done = seen.at(-1);
  expect(done?.status).to.equal(303);
  expect(done?.headers.get("location")).to.equal(`/jobs/${body.id}/result`);
  expect(done?.body).to.include({ status: "succeeded", attempts: 1, resultUrl: `/jobs/${body.id}/result` });
  expect(done?.body.progress.percent).to.equal(100);

  const result = await request(`${baseUrl}${done?.headers.get("location")}`, { headers: bearer(body.token) });
  expect(result.status).to.equal(200);
  expect(result.body).to.deep.equal({ steps: 5 });
}

/** A chain of long polls (If-None-Match + Prefer: wait), each answered by a change, ends with the
 * terminal state: every answer newer than the ETag it was asked with, the last a 303. */
export async function expectLongPollToEnd(baseUrl: string): Promise<void> {
  const job = await submit(baseUrl, "demo", { steps: 3, stepMs: 200 });
  let etag = `"${job.id}.${job.version}"`;
  const answers: { status: number; view: JobView }[] = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    expect(Date.now(), `job ${job.id} ended within 30 s of long polls`).to.be.below(deadline);
    const reply = await request<JobView>(`${baseUrl}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), "if-none-match": etag, prefer: "wait=10" },
    });
    if (reply.status === 304) continue; // nothing changed within the wait
    expect(reply.status, JSON.stringify(reply.body)).to.be.oneOf([200, 303]);
    answers.push({ status: reply.status, view: reply.body });
    etag = reply.headers.get("etag") ?? "";
    if (isTerminal(reply.body.status)) break;
  }
  const versions = answers.map((a) => a.view.version);
  expect(versions).to.deep.equal(
    [...new Set(versions)].sort((a, b) => a - b),
    "each answer newer than the last",
  );
  expect(answers.at(-1)).to.deep.include({ status: 303 });
  expect(answers.at(-1)?.view.status).to.equal("succeeded");
}

/** DELETE of a running job: 202 with cancelRequested; the job ends `canceled` on whichever worker
 * runs it; a second DELETE is a 409 with the final state. */
export async function expectCancelRunning(baseUrl: string): Promise<void> {
  const job = await submit(baseUrl, "demo", { steps: 40, stepMs: 250 });
  await waitForStatus(baseUrl, job, isRunning, { what: "running" });
  const cancel = await request<JobView>(`${baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
  expect(cancel.status, JSON.stringify(cancel.body)).to.equal(202);
  expect(cancel.body.cancelRequested).to.equal(true);
  const end = (await pollToEnd(baseUrl, job, { everyMs: 100, timeoutMs: 20_000 })).at(-1);
  expect(end?.body.status).to.equal("canceled");
  expect(end?.body.progress.percent).to.be.below(100, "it stopped before its last step");
  const again = await request<{ type: string }>(`${baseUrl}/jobs/${job.id}`, {
    method: "DELETE",
    headers: bearer(job.token),
  });
  expect(again.status).to.equal(409);
  expect(again.body.type).to.equal("urn:herald:problem:job-finished");
}
