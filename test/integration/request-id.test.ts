// Issue 11 (Logs): every HTTP request gets a request id (the client's sane X-Request-Id, else a
// new one), echoed in the response and logged on the request's line; the id travels with a job in
// its AMQP message headers, and a real worker process's log lines for that job carry it, retries
// included. Query strings (where an access_token may be) are never logged.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { pollToEnd, postJob, request } from "../helpers/http.ts";
import { noLimits } from "../helpers/stack.ts";

type Line = Record<string, unknown>;
const linesOf = (output: string): Line[] =>
  output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line);

describe("issue 11 (Logs): request ids, from the API's request line to the worker's job lines", function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;

  before(async () => {
    cluster = await startCluster({ apis: 1, workers: 1, env: { ...noLimits, LOG_LEVEL: "info" } });
  });
  after(async () => {
    await cluster?.stop();
  });

  const api = () => {
    const a = cluster?.apis[0];
    if (!a) throw new Error("no API");
    return a;
  };
  const requestLines = () => linesOf(api().output()).filter((l) => l.msg === "request");

  it("echoes a sane X-Request-Id and logs one line for the request, without its query string", async () => {
    const id = `client-${randomUUID()}`;
    const reply = await request(`${api().url}/healthz?access_token=top-secret-q`, { headers: { "x-request-id": id } });
    expect(reply.status).to.equal(200);
    expect(reply.headers.get("x-request-id")).to.equal(id);
    await pollUntil(() => requestLines().some((l) => l.requestId === id), { timeoutMs: 10_000 });
    const mine = requestLines().filter((l) => l.requestId === id);
    expect(mine).to.have.length(1);
    expect(mine[0]).to.include({ method: "GET", path: "/healthz", status: 200 });
    expect(mine[0]?.durationMs).to.be.a("number");
    expect(api().output()).to.not.include("top-secret-q");
  });

  it("generates an id when none is sent, or when the sent one is too long or has odd characters", async () => {
    const odd = `odd id "${randomUUID()}" <script>`;
    for (const sent of [undefined, "x".repeat(129), odd]) {
      const reply = await request(`${api().url}/healthz`, {
        headers: sent === undefined ? {} : { "x-request-id": sent },
      });
      const echoed = reply.headers.get("x-request-id") ?? "";
      expect(echoed, String(sent)).to.match(/^[0-9a-f-]{36}$/);
      expect(echoed).to.not.equal(sent);
    }
    expect(api().output()).to.not.include(odd.slice(8, 44)); // never logged
  });

  it("logs a problem answer's status on its line (a 404 with an id)", async () => {
    const id = `missing-${randomUUID()}`;
    const reply = await request(`${api().url}/jobs/${randomUUID()}`, { headers: { "x-request-id": id } });
    expect(reply.status).to.be.oneOf([401, 404]);
    expect(reply.headers.get("x-request-id")).to.equal(id);
    await pollUntil(() => requestLines().some((l) => l.requestId === id), { timeoutMs: 10_000 });
    expect(requestLines().find((l) => l.requestId === id)).to.include({ status: reply.status });
  });

  it("the worker's lines for the job's attempts (a retry included) carry the submitting request's id", async () => {
    const id = `submit-${randomUUID()}`;
    const reply = await postJob(
      api().url,
      { type: "demo", payload: { steps: 2, stepMs: 10, failAttempts: 1 } },
      { "x-request-id": id },
    );
    expect(reply.status).to.equal(202);
    expect(reply.headers.get("x-request-id")).to.equal(id);
    const job = reply.body as AcceptedJob;
    const seen = await pollToEnd(api().url, job, { timeoutMs: 30_000 });
    expect(seen.at(-1)?.body.status).to.equal("succeeded");

    const worker = cluster?.workers[0];
    const forJob = () => linesOf(worker?.output() ?? "").filter((l) => l.jobId === job.id);
    await pollUntil(() => forJob().some((l) => l.msg === "job finished"), { timeoutMs: 10_000 });
    const retried = forJob().find((l) => l.msg === "job will be retried");
    const finished = forJob().find((l) => l.msg === "job finished");
    expect(retried, "the first attempt's retry line").to.include({ requestId: id, service: "worker" });
    // The second attempt ran from the retry message the worker published: the id went on with it.
    expect(finished, "the second attempt's last line").to.include({ requestId: id, status: "succeeded" });
    expect(requestLines().find((l) => l.requestId === id)).to.include({ method: "POST", path: "/jobs", status: 202 });
  });
});
