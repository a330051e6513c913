// Issue 11, "For developers integrating it", first item: the OpenAPI 3.1 document at /openapi.json
// is valid (checked by a real OpenAPI validator), covers the protocol, and the answers of a real
// API match it (status, required headers, body against the response schema compiled by ajv);
// /docs renders it with scripts served by the API itself.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { expect } from "chai";
import { csvSummaryHandler } from "../../services/worker/jobs/csv-summary.ts";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import { problemKinds } from "../../shared/jobs/problems.ts";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { Gate } from "../helpers/gate.ts";
import { bearer, pollToEnd, postJob, type Reply, request, submit, waitForStatus } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

// ajv-formats is CommonJS with `exports.default`: under NodeNext its default import is the module.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Obj = Record<string, unknown>;
interface Operation {
  responses: Record<string, { headers?: Record<string, { required?: boolean; schema: Obj }>; content?: Obj }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Obj> };
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

/** Checks a real answer against the document: a declared status, every header the document
 * requires (and its schema), the media type, and the body against the response's schema. */
function conform(doc: Document, ajv: Ajv2020, method: string, path: string, reply: Reply): void {
  const where = `${method.toUpperCase()} ${path} → ${reply.status}`;
  const response = doc.paths[path]?.[method]?.responses[String(reply.status)];
  expect(response, `${where} is not in the document; body ${JSON.stringify(reply.body)}`).to.exist;
  for (const [name, header] of Object.entries(response?.headers ?? {})) {
    const value = reply.headers.get(name);
    if (header.required) expect(value, `${where}: required header ${name}`).to.be.a("string");
    if (value !== null) {
      const check = ajv.compile(header.schema);
      expect(check(value), `${where}: header ${name}: ${value}: ${ajv.errorsText(check.errors)}`).to.equal(true);
    }
  }
  const content = response?.content;
  if (!content) {
    expect(reply.body, `${where}: the document declares no body`).to.equal("");
    return;
  }
  const media = reply.contentType.split(";")[0]?.trim() ?? "";
  expect(Object.keys(content), `${where}: media type`).to.include(media);
  if (!media.includes("json")) return;
  const ref = `openapi.json#/${pointer("paths", path, method, "responses", String(reply.status), "content", media, "schema")}`;
  const check = ajv.getSchema(ref);
  if (!check) throw new Error(`no schema at ${ref}`);
  expect(check(reply.body), `${where}: ${ajv.errorsText(check.errors)}; body ${JSON.stringify(reply.body)}`).to.equal(
    true,
  );
}

function compiler(doc: Document): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, "openapi.json");
  return ajv;
}

describe("issue 11: OpenAPI 3.1 at /openapi.json, reference at /docs", function () {
  this.timeout(30_000);
  const gate = new Gate();
  let stack: Stack | undefined;
  let base = "";
  let doc: Document;
  let ajv: Ajv2020;
  const bodyLimitBytes = 4_096;

  before(async () => {
    stack = await startStack({
      handlers: registry([demoHandler, csvSummaryHandler, gate.handler]),
      bodyLimitBytes,
      env: noLimits, // the rate limit has its own stack below
    });
    base = stack.baseUrl;
    const reply = await request<Document>(`${base}/openapi.json`);
    expect(reply.status).to.equal(200);
    expect(reply.contentType).to.match(/^application\/json/);
    doc = reply.body;
    ajv = compiler(doc);
  });
  after(() => stack?.close());

  it("is a valid OpenAPI 3.1 document for a real validator, which rejects a broken copy", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Obj);
    expect(result.errors ?? [], JSON.stringify(result.errors)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    expect(validator.version).to.equal("3.1");
    // The validator does look: a response without its description is refused.
    const broken = structuredClone(doc);
    const submitted = broken.paths["/jobs"]?.post?.responses["202"];
    if (!submitted) throw new Error("no 202 for POST /jobs");
    delete (submitted as { description?: string }).description;
    expect((await new Validator().validate(broken as unknown as Obj)).valid).to.equal(false);
  });

  it("covers every endpoint, the protocol's headers, every problem type, and each job type's payload", () => {
    expect(Object.keys(doc.paths)).to.include.members([
      "/jobs",
      "/jobs/{id}",
      "/jobs/{id}/result",
      "/jobs/{id}/events",
      "/healthz",
      "/readyz",
      "/client.js",
      "/",
      "/demo",
      "/openapi.json",
      "/docs",
    ]);
    expect(Object.keys(doc.paths["/jobs/{id}"] ?? {})).to.include.members(["get", "delete"]);
    const text = JSON.stringify(doc);
    for (const header of [
      "Location",
      "Retry-After",
      "ETag",
      "Preference-Applied",
      "Idempotency-Key",
      "Idempotent-Replayed",
      "Content-Location",
      "If-None-Match",
      "Prefer",
      "Last-Event-ID",
      "X-Request-Id",
    ]) {
      expect(text, header).to.include(`"${header}"`);
    }
    for (const kind of Object.values(problemKinds)) expect(text, kind.type).to.include(kind.type);
    // Payload schemas from the job types themselves (shared/jobs/job-types.ts via the catalog).
    const schemas = doc.components.schemas;
    expect(schemas["JobRequest.demo"]).to.nested.include({ "properties.type.const": "demo" });
    expect(schemas["JobRequest.demo"]).to.nested.include({ "properties.payload.properties.steps.maximum": 1000 });
    expect(schemas["JobRequest.csv-summary"]).to.nested.include({ "properties.payload.properties.csv.type": "string" });
    expect(schemas["JobRequest.csv-summary"]?.required).to.include("payload"); // csv has no default
    expect(schemas["JobRequest.gated"]).to.exist;
  });

  it("real answers of the job protocol match it: 202, 200, 304, 409, 303, 200 result, DELETE 409 and 202", async () => {
    const accepted = await postJob(base, { type: "gated", payload: {} });
    conform(doc, ajv, "post", "/jobs", accepted);
    expect(accepted.status).to.equal(202);
    const job = accepted.body as AcceptedJob;
    await gate.started(job.id);
    const running = await waitForStatus(base, job, (r) => r.body.status === "running");
    conform(doc, ajv, "get", "/jobs/{id}", running);
    const etag = running.headers.get("etag") ?? "";
    const unchanged = await request(`${base}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), "if-none-match": etag },
    });
    expect(unchanged.status).to.equal(304);
    conform(doc, ajv, "get", "/jobs/{id}", unchanged);
    const early = await request(`${base}/jobs/${job.id}/result`, { headers: bearer(job.token) });
    expect(early.status).to.equal(409);
    conform(doc, ajv, "get", "/jobs/{id}/result", early);
    gate.finish(job.id, { answer: 42 });
    const replies = await pollToEnd(base, job);
    const done = replies.at(-1) as Reply;
    expect(done.status).to.equal(303);
    conform(doc, ajv, "get", "/jobs/{id}", done);
    const result = await request(`${base}/jobs/${job.id}/result`, { headers: bearer(job.token) });
    expect(result.status).to.equal(200);
    conform(doc, ajv, "get", "/jobs/{id}/result", result);
    const finished = await request(`${base}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
    expect(finished.status).to.equal(409);
    conform(doc, ajv, "delete", "/jobs/{id}", finished);

    // Cancel while queued (200) is not deterministic with a live worker; cancel while running is.
    const other = (await postJob(base, { type: "gated", payload: {} })).body as AcceptedJob;
    await gate.started(other.id);
    const cancel = await request(`${base}/jobs/${other.id}`, { method: "DELETE", headers: bearer(other.token) });
    expect(cancel.status).to.equal(202);
    conform(doc, ajv, "delete", "/jobs/{id}", cancel);
  });

  it("the conformance check fails on an answer that departs from the document", async () => {
    const job = (await postJob(base, { type: "gated", payload: {} })).body as AcceptedJob;
    const reply = await request(`${base}/jobs/${job.id}`, { headers: bearer(job.token) });
    conform(doc, ajv, "get", "/jobs/{id}", reply);
    const withHeaders = (drop: string): Headers => {
      const h = new Headers(reply.headers);
      h.delete(drop);
      return h;
    };
    const departures: Reply[] = [
      { ...reply, status: 418 },
      { ...reply, headers: withHeaders("etag") },
      { ...reply, body: { ...(reply.body as Obj), surprise: true } },
      { ...reply, body: { ...(reply.body as Obj), status: "sleeping" } },
      { ...reply, contentType: "text/plain" },
    ];
    for (const departed of departures) expect(() => conform(doc, ajv, "get", "/jobs/{id}", departed)).to.throw();
    await request(`${base}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
  });

  it("real answers with Prefer, Idempotency-Key and SSE match it: 200 final, replay, events 200 and 204", async () => {
    const key = { "idempotency-key": `openapi-${Date.now()}` };
    const waited = await postJob(
      base,
      { type: "demo", payload: { steps: 1, stepMs: 0 } },
      { ...key, prefer: "wait=20" },
    );
    expect(waited.status).to.equal(200);
    conform(doc, ajv, "post", "/jobs", waited);
    const replayed = await postJob(base, { type: "demo", payload: { steps: 1, stepMs: 0 } }, key);
    expect(replayed.status).to.equal(202);
    expect(replayed.headers.get("idempotent-replayed")).to.equal("true");
    conform(doc, ajv, "post", "/jobs", replayed);
    const reused = await postJob(base, { type: "demo", payload: { steps: 2 } }, key);
    expect(reused.status).to.equal(422);
    conform(doc, ajv, "post", "/jobs", reused);

    const job = waited.body as AcceptedJob;
    const represented = await request(`${base}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), prefer: "return=representation" },
    });
    expect(represented.status).to.equal(200);
    conform(doc, ajv, "get", "/jobs/{id}", represented);
    const stream = await request(`${base}/jobs/${job.id}/events`, { headers: bearer(job.token) });
    expect(stream.status).to.equal(200);
    conform(doc, ajv, "get", "/jobs/{id}/events", stream);
    const ended = await request(`${base}/jobs/${job.id}/events`, {
      headers: { ...bearer(job.token), "last-event-id": String(waited.headers.get("etag")?.match(/\.(\d+)"/)?.[1]) },
    });
    expect(ended.status).to.equal(204);
    conform(doc, ajv, "get", "/jobs/{id}/events", ended);
  });

  it("real refusals match it: 400, 401, 404, 413, 415, 422 (request, type, payload)", async () => {
    const cases: [string, Reply][] = [
      ["/jobs", await postJob(base, "{nope")],
      ["/jobs", await postJob(base, { type: "demo" }, { "idempotency-key": "has space" })],
      ["/jobs", await postJob(base, { type: "demo", payload: { pad: "x".repeat(bodyLimitBytes) } })],
      [
        "/jobs",
        await request(`${base}/jobs`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }),
      ],
      ["/jobs", await postJob(base, { type: "demo", extra: 1 })],
      ["/jobs", await postJob(base, { type: "no-such-type" })],
      ["/jobs", await postJob(base, { type: "csv-summary", payload: {} })],
    ];
    expect(cases.map(([, r]) => r.status)).to.deep.equal([400, 400, 413, 415, 422, 422, 422]);
    for (const [path, reply] of cases) conform(doc, ajv, "post", path, reply);

    const id = crypto.randomUUID();
    const unauthorised = await request(`${base}/jobs/${id}`);
    expect(unauthorised.status).to.equal(401);
    conform(doc, ajv, "get", "/jobs/{id}", unauthorised);
    for (const path of ["/jobs/{id}", "/jobs/{id}/result", "/jobs/{id}/events"]) {
      const missing = await request(`${base}${path.replace("{id}", id)}`, { headers: bearer("not-a-token") });
      expect(missing.status).to.equal(404);
      conform(doc, ajv, "get", path, missing);
    }
    const noCancel = await request(`${base}/jobs/${id}`, { method: "DELETE", headers: bearer("not-a-token") });
    expect(noCancel.status).to.equal(404);
    conform(doc, ajv, "delete", "/jobs/{id}", noCancel);
  });

  it("the operator API while ADMIN_TOKEN is unset: 404 on every admin path matches it", async () => {
    for (const path of ["/admin", "/admin/api/jobs", "/admin/api/stats", "/admin/api/dead-letters"]) {
      const reply = await request(`${base}${path}`, { headers: bearer("x".repeat(32)) });
      expect(reply.status, path).to.equal(404);
      conform(doc, ajv, "get", path, reply);
    }
    const replay = await request(`${base}/admin/api/dead-letters/replay`, { method: "POST" });
    expect(replay.status).to.equal(404);
    conform(doc, ajv, "post", "/admin/api/dead-letters/replay", replay);
  });

  it("the probes and pages match it: /healthz, /readyz, /client.js, /, /demo, /openapi.json, /docs", async () => {
    for (const path of ["/healthz", "/readyz", "/client.js", "/", "/demo", "/openapi.json", "/docs"]) {
      const reply = await request(`${base}${path}`);
      expect(reply.status, path).to.equal(200);
      conform(doc, ajv, "get", path, reply);
    }
  });

  it("/docs is HTML whose scripts and styles are all same-origin, and served", async () => {
    const page = await request<string>(`${base}/docs`);
    expect(page.contentType).to.match(/^text\/html/);
    const scripts = [...page.body.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
    expect(scripts.length).to.be.greaterThan(0);
    const sources = scripts.map((tag) => /\bsrc="([^"]+)"/.exec(tag)?.[1]);
    expect(sources, "no inline scripts").to.not.include(undefined);
    const styles = [...page.body.matchAll(/<link\b[^>]*href="([^"]+)"/gi)].map((m) => m[1] ?? "");
    const pageUrl = `${base}/docs`;
    for (const src of [...(sources as string[]), ...styles]) {
      const url = new URL(src, pageUrl);
      expect(url.origin, src).to.equal(new URL(base).origin);
      const asset = await request<string>(url.href);
      expect(asset.status, src).to.equal(200);
      if (sources.includes(src)) expect(asset.contentType, src).to.match(/^text\/javascript/);
      else expect(asset.contentType, src).to.match(/^text\/css/);
      expect(asset.body.length, src).to.be.greaterThan(100);
    }
    // The renderer is Swagger UI, given this API's own document and no online validator.
    const init = await request<string>(new URL("docs/init.js", pageUrl).href);
    expect(init.body).to.include("openapi.json").and.include("validatorUrl: null");
    expect((await request(`${base}/docs/package.json`)).status).to.equal(404); // nothing else of the package
  });
});

describe("issue 11: OpenAPI: the operator API (/admin, ADMIN_TOKEN set) matches the document", function () {
  this.timeout(30_000);
  const token = randomBytes(24).toString("base64url"); // 32 characters
  let stack: Stack | undefined;
  let base = "";
  let doc: Document;
  let ajv: Ajv2020;
  const admin = (path: string, init: RequestInit = {}): Promise<Reply> =>
    request(`${base}${path}`, { ...init, headers: { ...bearer(token), ...init.headers } });
  const replay = (body: unknown, auth = bearer(token)): Promise<Reply> =>
    request(`${base}/admin/api/dead-letters/replay`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  before(async () => {
    stack = await startStack({ workers: 1, env: { ...noLimits, ADMIN_TOKEN: token } });
    base = stack.baseUrl;
    doc = (await request<Document>(`${base}/openapi.json`)).body;
    ajv = compiler(doc);
  });
  after(() => stack?.close());

  it("has every route of admin-routes.ts, with the admin bearer scheme", () => {
    const source = readFileSync(new URL("../../services/api/admin-routes.ts", import.meta.url), "utf8");
    const routes = [...source.matchAll(/router\.(get|post|put|patch|delete)\("([^"]+)"/g)].map((m) => [m[1], m[2]]);
    expect(routes.length).to.be.at.least(5);
    for (const [method, path] of routes) {
      expect(doc.paths[path as string], `${path}`).to.have.property(method as string);
      const op = doc.paths[path as string]?.[method as string] as unknown as { security: Obj[] };
      expect(op.security, `${method} ${path}`).to.deep.include({ adminToken: [] });
    }
    expect(doc.components).to.nested.include({ "securitySchemes.adminToken.scheme": "bearer" });
  });

  it("200 jobs, stats, dead letters and replay; 400, 401, 403 match it", async () => {
    const failing = await submit(base, "demo", { steps: 2, stepMs: 0, fail: "boom" });
    expect((await pollToEnd(base, failing)).at(-1)?.body.status).to.equal("failed");
    const jobs = await admin(`/admin/api/jobs?status=failed&type=demo&limit=10`);
    expect(jobs.status).to.equal(200);
    expect((jobs.body as { jobs: { id: string }[] }).jobs.map((j) => j.id)).to.include(failing.id);
    conform(doc, ajv, "get", "/admin/api/jobs", jobs);
    const byId = await admin(`/admin/api/jobs?id=${failing.id}`);
    conform(doc, ajv, "get", "/admin/api/jobs", byId);
    const stats = await admin("/admin/api/stats");
    expect(stats.status).to.equal(200);
    conform(doc, ajv, "get", "/admin/api/stats", stats);
    const letters = await pollUntil(
      async () => {
        const r = await admin("/admin/api/dead-letters?limit=100");
        const listed = (r.body as { messages?: { jobId: string | null }[] }).messages ?? [];
        return listed.some((m) => m.jobId === failing.id) ? r : null;
      },
      { timeoutMs: 15_000, what: "the failed job's dead letter listed" },
    );
    expect(letters.status).to.equal(200);
    conform(doc, ajv, "get", "/admin/api/dead-letters", letters);
    const replayed = await replay({ jobIds: [failing.id] });
    expect(replayed.status).to.equal(200);
    expect((replayed.body as { replayed: string[] }).replayed).to.deep.equal([failing.id]);
    conform(doc, ajv, "post", "/admin/api/dead-letters/replay", replayed);
    // The page, with and without the token.
    for (const [auth, status] of [
      [bearer(token), 200],
      [{}, 401],
      [bearer(`${token}x`), 403],
    ] as const) {
      const page = await request(`${base}/admin`, { headers: auth });
      expect(page.status).to.equal(status);
      conform(doc, ajv, "get", "/admin", page);
    }

    const refused: [string, string, Reply, number][] = [
      ["get", "/admin/api/jobs", await admin("/admin/api/jobs?status=sleeping"), 400],
      ["get", "/admin/api/jobs", await admin(`/admin/api/jobs?limit=${201}`), 400],
      ["get", "/admin/api/stats", await admin("/admin/api/stats?x=1"), 400],
      ["get", "/admin/api/dead-letters", await admin("/admin/api/dead-letters?limit=1000"), 400],
      ["post", "/admin/api/dead-letters/replay", await replay({ jobIds: [] }), 400],
      ["get", "/admin/api/jobs", await request(`${base}/admin/api/jobs`), 401],
      ["get", "/admin/api/stats", await request(`${base}/admin/api/stats`), 401],
      ["post", "/admin/api/dead-letters/replay", await replay({ all: true }, {}), 401],
      ["get", "/admin/api/jobs", await request(`${base}/admin/api/jobs`, { headers: bearer("wrong") }), 403],
      [
        "get",
        "/admin/api/dead-letters",
        await request(`${base}/admin/api/dead-letters`, { headers: bearer(`${token}x`) }),
        403,
      ],
      ["post", "/admin/api/dead-letters/replay", await replay({ all: true }, bearer("wrong")), 403],
    ];
    for (const [method, path, reply, status] of refused) {
      expect(reply.status, `${method} ${path}: ${JSON.stringify(reply.body)}`).to.equal(status);
      conform(doc, ajv, method, path, reply);
    }
  });
});

describe("issue 11: /docs renders in Chromium from the API alone", function () {
  this.timeout(30_000);
  let stack: Stack | undefined;
  let browser: BrowserLease | undefined;
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows every path of the document, and no request leaves the API's origin", async () => {
    stack = await startStack({ workers: 0, env: noLimits });
    const origin = stack.baseUrl;
    browser = await sharedChromium();
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).origin !== origin) elsewhere.push(r.url());
    });
    await page.goto(`${origin}/docs`);
    await page.waitForSelector(".opblock-summary-path", { timeout: 20_000 });
    const shown = await page.locator(".opblock-summary-path").allTextContents();
    const doc = (await request<Document>(`${origin}/openapi.json`)).body;
    expect(new Set(shown)).to.deep.equal(new Set(Object.keys(doc.paths)));
    expect(elsewhere).to.deep.equal([]);
  });
});

describe("issue 11: OpenAPI: a rate-limited read (429) matches the document", function () {
  this.timeout(30_000);
  let stack: Stack | undefined;
  after(() => stack?.close());

  it("429 rate-limited with Retry-After", async () => {
    stack = await startStack({ workers: 0, env: { ...noLimits, RATE_LIMIT_READ_PER_MINUTE: "1" } });
    const doc = (await request<Document>(`${stack.baseUrl}/openapi.json`)).body;
    const ajv = compiler(doc);
    const url = `${stack.baseUrl}/jobs/${crypto.randomUUID()}`;
    const first = await request(url, { headers: bearer("x") });
    // The fixed window may turn between the two reads: then the third is the one refused.
    let limited = await request(url, { headers: bearer("x") });
    if (limited.status !== 429) limited = await request(url, { headers: bearer("x") });
    expect([first.status, limited.status]).to.deep.equal([404, 429]);
    conform(doc, ajv, "get", "/jobs/{id}", limited);
  });
});
