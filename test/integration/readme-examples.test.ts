// Issue 7 item 21: what the README shows and states about the HTTP protocol, checked against a real
// API (in-process, real HTTP) and a real worker on the local brokers: the curl example of "Start"
// and the 202 it documents, "every job response carries Cache-Control: no-store and an ETag", and
// the queue-depth bound of MAX_QUEUE_DEPTH. (Tables and names: test/unit/docs.test.ts.)
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { bearer, postJob, request } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The first `curl` command of a ```sh block: method, path, headers, body. */
function curlExample(): { method: string; path: string; headers: Record<string, string>; body: string } {
  const block = /```sh\n(curl [\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error("README has no curl example");
  const command = block.replace(/\\\n\s*/g, " ");
  const method = /-X (\w+)/.exec(command)?.[1] ?? "GET";
  const path = new URL(`http://${/ (localhost:\d+\S*)/.exec(command)?.[1]}`).pathname;
  const headers = Object.fromEntries(
    [...command.matchAll(/-H '([^:]+):\s*([^']*)'/g)].map((m) => [m[1] as string, m[2] as string]),
  );
  const body = /-d '([^']*)'/.exec(command)?.[1] ?? "";
  return { method, path, headers, body };
}

/** The member names of the README's 202 example body. */
function documented202Members(): string[] {
  const example = /HTTP\/1\.1 202 Accepted\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  return [...example.matchAll(/"(\w+)":/g)].map((m) => m[1] as string).filter((k) => k !== "percent");
}

const etagPattern = (id: string) => new RegExp(`^"${id}\\.\\d+"$`);

describe("issue 7 item 21: the README's examples hold against a real API", function () {
  this.timeout(60_000);

  describe("with a worker", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({ workers: 1 });
    });
    after(async () => {
      await stack?.close();
    });

    it("the curl example of Start answers the 202 the README shows", async () => {
      const s = stack as Stack;
      const ex = curlExample();
      expect(ex).to.include({ method: "POST", path: "/jobs" });
      const reply = await request<AcceptedJob>(`${s.baseUrl}${ex.path}`, {
        method: ex.method,
        headers: ex.headers,
        body: ex.body,
      });
      expect(reply.status).to.equal(202);
      const job = reply.body;
      expect(reply.headers.get("location")).to.equal(`/jobs/${job.id}`);
      expect(reply.headers.get("retry-after")).to.equal("1");
      const members = documented202Members();
      expect(members).to.include.members(["id", "status", "version", "token", "statusUrl"]);
      expect(Object.keys(job).sort()).to.deep.equal([...new Set(members)].sort());
      expect(job).to.include({ type: "demo", status: "queued", version: 1, attempts: 0 });
    });

    it("every job response carries Cache-Control: no-store and an ETag", async () => {
      const s = stack as Stack;
      const check = (what: string, r: { status: number; headers: Headers }, id: string, status: number) => {
        expect(r.status, what).to.equal(status);
        expect(r.headers.get("cache-control"), `${what}: Cache-Control`).to.equal("no-store");
        expect(r.headers.get("etag"), `${what}: ETag`).to.match(etagPattern(id));
      };
      const body = { type: "demo", payload: { steps: 1, stepMs: 0 } };

      const accepted = await postJob(s.baseUrl, body);
      const job = accepted.body as AcceptedJob;
      check("202", accepted, job.id, 202);
      expect(accepted.headers.get("etag")).to.equal(`"${job.id}.1"`);

      const done = await pollUntil(
        async () => {
          const r = await request(`${s.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
          return r.status === 303 ? r : undefined;
        },
        { timeoutMs: 15_000, what: "the job to succeed" },
      );
      check("status 303", done, job.id, 303);
      const etag = done.headers.get("etag") ?? "";
      check(
        "status 304",
        await request(`${s.baseUrl}/jobs/${job.id}`, { headers: { ...bearer(job.token), "if-none-match": etag } }),
        job.id,
        304,
      );
      const result = await request(`${s.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      check("result 200", result, job.id, 200);
      expect(result.body).to.deep.equal({ steps: 1 });

      const waited = await postJob(s.baseUrl, body, { prefer: "wait=10" });
      check("POST with Prefer: wait", waited, (waited.body as AcceptedJob).id, 200);

      const slow = (await postJob(s.baseUrl, { type: "demo", payload: { steps: 1, stepMs: 60_000 } }))
        .body as AcceptedJob;
      check("status 200", await request(`${s.baseUrl}/jobs/${slow.id}`, { headers: bearer(slow.token) }), slow.id, 200);
      const canceled = await request(`${s.baseUrl}/jobs/${slow.id}`, { method: "DELETE", headers: bearer(slow.token) });
      expect(canceled.status).to.be.oneOf([200, 202]); // queued: canceled now; running: cancel requested
      check("cancel", canceled, slow.id, canceled.status);
    });
  });

  it("POST answers 503 queue-full once the queue holds MAX_QUEUE_DEPTH messages (at least, not more than)", async () => {
    let stack: Stack | undefined;
    try {
      stack = await startStack({ workers: 0, env: { MAX_QUEUE_DEPTH: "2" } });
      const s = stack;
      // Exactly MAX_QUEUE_DEPTH messages, published with confirms before the API reads the depth.
      for (let i = 0; i < 2; i++) {
        await s.apiQueue.publish({ v: 1, jobId: randomUUID(), type: "demo", payload: {} });
      }
      await pollUntil(async () => (await s.apiQueue.depth()) === 2, { timeoutMs: 5_000, what: "depth 2" });
      const refused = await postJob(s.baseUrl, { type: "demo", payload: {} });
      expect(refused.status).to.equal(503);
      expect((refused.body as { type?: string }).type).to.equal("urn:herald:problem:queue-full");
      expect(readme.replace(/\s+/g, " ")).to.include("while the queue holds `MAX_QUEUE_DEPTH` messages or more");
    } finally {
      await stack?.close();
    }
  });
});
