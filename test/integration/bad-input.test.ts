// Every way a request can be wrong gets its status code and problem `type`, creates no job,
// and leaves the API serving.
import { request as httpRequest } from "node:http";
import { expect } from "chai";
import { bearer, pollToEnd, postJob, type Reply, request, submit } from "../helpers/http.ts";
import { jobKeys } from "../helpers/redis-keys.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const limit = 1024;
const problem = (name: string) => `urn:herald:problem:${name}`;

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: unknown[];
  knownTypes?: string[];
}

/** A POST whose body is sent in chunks with no Content-Length (Transfer-Encoding: chunked). */
function postChunked(base: string, chunks: string[]): Promise<Reply<ProblemBody>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/jobs`, { method: "POST", headers: { "content-type": "application/json" } });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
      });
      res.on("end", () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers.set(k, v);
        resolve({
          status: res.statusCode ?? 0,
          headers,
          body: JSON.parse(text) as ProblemBody,
          contentType: res.headers["content-type"] ?? "",
        });
      });
    });
    // The server may answer (and stop reading) before the last chunk: that is not a test failure.
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
    });
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** `{"type":"demo",…}` padded with trailing JSON whitespace to exactly `bytes` bytes. */
function demoBodyOfSize(bytes: number): string {
  const json = JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } });
  return json + " ".repeat(bytes - Buffer.byteLength(json));
}

describe("bad input: status codes and problem types", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ bodyLimitBytes: limit });
  });
  after(() => stack?.close());

  function expectProblem(reply: Reply, status: number, type: string): ProblemBody {
    const body = reply.body as ProblemBody;
    expect(reply.status, JSON.stringify(reply.body)).to.equal(status);
    expect(reply.contentType).to.match(/^application\/problem\+json/);
    expect(body.type).to.equal(type);
    expect(body.status).to.equal(status);
    expect(body.title).to.be.a("string").and.not.equal("");
    expect(reply.headers.get("cache-control")).to.equal("no-store");
    return body;
  }

  /** A refused request must leave nothing behind in Redis. */
  async function expectNoJobRecords(): Promise<void> {
    expect(await jobKeys(stack.redis, stack.names)).to.deep.equal([]);
  }

  describe("refused requests (no job record is created)", () => {
    afterEach(async function () {
      if (this.currentTest?.state === "passed") await expectNoJobRecords();
    });

    for (const [label, body] of [
      ["truncated JSON", '{"type": "demo", "payload": {'],
      ["not JSON at all", "type=demo"],
      ["trailing garbage", '{"type": "demo"} x'],
      ["single quotes", "{'type': 'demo'}"],
      ["an empty body", ""],
    ] as const) {
      it(`400 invalid-json: ${label}`, async () => {
        expectProblem(await postJob(stack.baseUrl, body), 400, problem("invalid-json"));
      });
    }

    it("415 unsupported-media-type: text/plain, form, and no Content-Type at all", async () => {
      const json = JSON.stringify({ type: "demo", payload: {} });
      for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
        const reply = await request(`${stack.baseUrl}/jobs`, {
          method: "POST",
          headers: { "content-type": contentType },
          body: json,
        });
        expectProblem(reply, 415, problem("unsupported-media-type"));
      }
      // A byte body makes fetch send no Content-Type header.
      const bare = await request(`${stack.baseUrl}/jobs`, { method: "POST", body: new TextEncoder().encode(json) });
      expectProblem(bare, 415, problem("unsupported-media-type"));
    });

    it("413 payload-too-large: a body over the limit with Content-Length", async () => {
      const reply = await postJob(stack.baseUrl, demoBodyOfSize(limit + 1));
      expectProblem(reply, 413, problem("payload-too-large"));
    });

    it("413 payload-too-large: a much larger body with Content-Length", async () => {
      const reply = await postJob(stack.baseUrl, demoBodyOfSize(64 * limit));
      expectProblem(reply, 413, problem("payload-too-large"));
    });

    it("413 payload-too-large: a chunked body over the limit (no Content-Length)", async () => {
      const body = demoBodyOfSize(4 * limit);
      const chunks = [body.slice(0, 100), body.slice(100, 1500), body.slice(1500)];
      const reply = await postChunked(stack.baseUrl, chunks);
      expect(reply.headers.get("content-length")).to.not.equal(null, "a proper answer, not a reset");
      expectProblem(reply, 413, problem("payload-too-large"));
    });

    for (const [label, body] of [
      ["an array", []],
      ["a number", 42],
      ["a string", "demo"],
      ["null", null],
      ["an unknown top-level field", { type: "demo", payload: {}, priority: 1 }],
      ["a missing type", { payload: { steps: 1 } }],
      ["an empty type", { type: "", payload: {} }],
      ["a non-string type", { type: 7, payload: {} }],
      ["a payload that is not an object", { type: "demo", payload: [1, 2] }],
    ] as const) {
      it(`422 invalid-request: ${label}`, async () => {
        const reply = await postJob(stack.baseUrl, JSON.stringify(body));
        const p = expectProblem(reply, 422, problem("invalid-request"));
        expect(p.errors).to.be.an("array").that.is.not.empty;
      });
    }

    it("422 unknown-job-type, listing the known types", async () => {
      const reply = await postJob(stack.baseUrl, { type: "mine-bitcoin", payload: {} });
      const p = expectProblem(reply, 422, problem("unknown-job-type"));
      expect(p.knownTypes).to.have.members(["demo", "csv-summary"]);
      expect(p.detail).to.include("mine-bitcoin");
    });

    for (const [label, payload] of [
      ["steps 0", { steps: 0 }],
      ['steps "x"', { steps: "x" }],
      ["steps 1.5", { steps: 1.5 }],
      ["steps over the maximum", { steps: 1001 }],
      ["negative stepMs", { stepMs: -1 }],
      ["an unknown payload field", { steps: 1, colour: "red" }],
    ] as const) {
      it(`422 invalid-payload: demo with ${label}`, async () => {
        const reply = await postJob(stack.baseUrl, { type: "demo", payload });
        const p = expectProblem(reply, 422, problem("invalid-payload"));
        expect(p.errors).to.be.an("array").that.is.not.empty;
      });
    }

    it("422 invalid-payload: csv-summary without its csv", async () => {
      const reply = await postJob(stack.baseUrl, { type: "csv-summary", payload: { delimiter: "," } });
      expectProblem(reply, 422, problem("invalid-payload"));
    });

    it("404 not-found for unknown routes", async () => {
      // (`/` is the demo page.)
      for (const path of ["/index.html", "/nope", "/jobs/x/y/z", "/job", "/jobsx"]) {
        const reply = await request(`${stack.baseUrl}${path}`);
        expect(reply.status, path).to.equal(404);
        expectProblem(reply, 404, problem("not-found"));
      }
      expectProblem(await postJob(`${stack.baseUrl}/v2`, { type: "demo" }), 404, problem("not-found"));
    });

    it("405 method-not-allowed, with an Allow header, for a wrong method on a known route", async () => {
      for (const [method, path, allowed] of [
        ["PUT", "/jobs", "POST"],
        ["DELETE", "/jobs", "POST"],
        ["PATCH", "/jobs/4b0f6a8e-2f4c-4c1e-9a51-1f0e6f2c9d11/result", "GET"],
      ] as const) {
        const reply = await request(`${stack.baseUrl}${path}`, {
          method,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ type: "demo", payload: {} }),
        });
        expectProblem(reply, 405, problem("method-not-allowed"));
        const allow = (reply.headers.get("allow") ?? "").split(",").map((m) => m.trim());
        expect(allow, `${method} ${path}: RFC 9110 requires Allow on 405`).to.include(allowed);
      }
    });
  });

  describe("accepted requests at the edges", () => {
    it("a body of exactly the limit is accepted; a charset parameter is fine", async () => {
      const reply = await request<{ id: string; token: string }>(`${stack.baseUrl}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: demoBodyOfSize(limit),
      });
      expect(reply.status, JSON.stringify(reply.body)).to.equal(202);
      expect((await pollToEnd(stack.baseUrl, reply.body)).at(-1)?.status).to.equal(303);
    });

    it("after all of that, the API still runs a job to completion and stores only accepted jobs", async () => {
      const before = await jobKeys(stack.redis, stack.names);
      const job = await submit(stack.baseUrl, "demo", { steps: 2, stepMs: 10 });
      const end = (await pollToEnd(stack.baseUrl, job)).at(-1);
      expect(end?.status).to.equal(303);
      const result = await request(`${stack.baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.body).to.deep.equal({ steps: 2 });
      const after = await jobKeys(stack.redis, stack.names);
      expect(after.filter((k) => !before.includes(k))).to.have.members([
        stack.names.jobKey(job.id),
        stack.names.resultKey(job.id),
      ]);
      // Only the two accepted jobs of this file have records.
      expect(after.filter((k) => !k.endsWith(":result"))).to.have.length(2);
    });
  });
});
