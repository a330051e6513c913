// Who may see a job: only the holder of its token. Wrong tokens and unknown ids are
// indistinguishable; the token itself is never stored.
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { hashToken } from "../../shared/store/tokens.ts";
import { bearer, pollToEnd, type Reply, request, submit } from "../helpers/http.ts";
import { scanKeys } from "../helpers/redis-keys.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const unknownId = "4b0f6a8e-2f4c-4c1e-9a51-1f0e6f2c9d11";

describe("access: per-job tokens", () => {
  let stack: Stack;
  let a: AcceptedJob;
  let b: AcceptedJob;
  const status = (id: string, headers: Record<string, string> = {}) =>
    request(`${stack.baseUrl}/jobs/${id}`, { headers });
  const result = (id: string, headers: Record<string, string> = {}) =>
    request(`${stack.baseUrl}/jobs/${id}/result`, { headers });

  before(async () => {
    stack = await startStack();
    [a, b] = await Promise.all([
      submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 }),
      submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 }),
    ]);
    await Promise.all([pollToEnd(stack.baseUrl, a), pollToEnd(stack.baseUrl, b)]);
  });
  after(() => stack?.close());

  function expectNotFound(reply: Reply): void {
    expect(reply.status, JSON.stringify(reply.body)).to.equal(404);
    expect(reply.contentType).to.match(/^application\/problem\+json/);
    expect((reply.body as { type: string }).type).to.equal("urn:herald:problem:not-found");
  }

  /** The 404 body with the id the client itself sent replaced, so answers for different ids compare. */
  const normalised = (reply: Reply, id: string): string => JSON.stringify(reply.body).replaceAll(id, "<id>");

  it("a valid token grants the status and the result", async () => {
    const s = await status(a.id, bearer(a.token));
    expect(s.status).to.equal(303);
    expect(s.body).to.include({ id: a.id, status: "succeeded" });
    expect(s.body).to.not.have.any.keys("token", "tokenHash");
    const r = await result(a.id, bearer(a.token));
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ steps: 1 });
  });

  it("no token: 401 with WWW-Authenticate: Bearer, on status and result", async () => {
    for (const reply of [await status(a.id), await result(a.id)]) {
      expect(reply.status).to.equal(401);
      expect(reply.contentType).to.match(/^application\/problem\+json/);
      expect((reply.body as { type: string }).type).to.equal("urn:herald:problem:unauthorized");
      expect(reply.headers.get("www-authenticate")).to.match(/^Bearer\b/);
      expect(JSON.stringify(reply.body)).to.not.include("succeeded");
    }
  });

  it("an Authorization header of another scheme, or an empty Bearer, counts as no token", async () => {
    for (const authorization of [`Basic ${Buffer.from(`x:${a.token}`).toString("base64")}`, "Bearer", "Bearer "]) {
      expect((await status(a.id, { authorization })).status, authorization).to.equal(401);
    }
    expect((await request(`${stack.baseUrl}/jobs/${a.id}?access_token=`)).status).to.equal(401);
  });

  it("a wrong token: 404 on status and result", async () => {
    expectNotFound(await status(a.id, bearer("not-the-token")));
    expectNotFound(await result(a.id, bearer("not-the-token")));
    expectNotFound(await status(a.id, bearer(`${a.token}x`)));
    expectNotFound(await status(a.id, bearer(a.token.slice(0, -1))));
    expectNotFound(await status(a.id, bearer("x".repeat(5_000))));
  });

  it("another job's token: 404, with the very body an unknown id gets (nothing of the job leaks)", async () => {
    const crossed = await status(a.id, bearer(b.token));
    const unknown = await status(unknownId, bearer(b.token));
    expectNotFound(crossed);
    expectNotFound(unknown);
    expect(normalised(crossed, a.id)).to.equal(normalised(unknown, unknownId));
    expect(crossed.headers.get("www-authenticate")).to.equal(unknown.headers.get("www-authenticate"));
    expect(crossed.headers.get("etag")).to.equal(null);

    const crossedResult = await result(a.id, bearer(b.token));
    const unknownResult = await result(unknownId, bearer(b.token));
    expectNotFound(crossedResult);
    expect(normalised(crossedResult, a.id)).to.equal(normalised(unknownResult, unknownId));

    for (const reply of [crossed, crossedResult]) {
      const text = JSON.stringify(reply.body);
      for (const secret of ["demo", "succeeded", a.createdAt, "steps"]) expect(text).to.not.include(secret);
    }
  });

  it("an unknown id with some token: 404", async () => {
    expectNotFound(await status(unknownId, bearer(a.token)));
    expectNotFound(await result(unknownId, bearer(a.token)));
  });

  it("a malformed id: 404", async () => {
    for (const id of ["nope", "123", a.id.toUpperCase().replace(/-/g, ""), `${a.id}0`, "..%2F..%2Fetc", "%00"]) {
      expectNotFound(await status(id, bearer(a.token)));
    }
    // A UUID of another version is not a job id.
    expectNotFound(await status("4b0f6a8e-2f4c-1c1e-9a51-1f0e6f2c9d11", bearer(a.token)));
  });

  it("the access_token query parameter works like the header", async () => {
    const s = await request(`${stack.baseUrl}/jobs/${a.id}?access_token=${encodeURIComponent(a.token)}`);
    expect(s.status).to.equal(303);
    expect(s.body).to.include({ id: a.id, status: "succeeded" });
    const r = await request(`${stack.baseUrl}/jobs/${a.id}/result?access_token=${encodeURIComponent(a.token)}`);
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ steps: 1 });
    expectNotFound(await request(`${stack.baseUrl}/jobs/${a.id}?access_token=${encodeURIComponent(b.token)}`));
  });

  it("the Bearer scheme name is case-insensitive", async () => {
    expect((await status(a.id, { authorization: `bearer ${a.token}` })).status).to.equal(303);
  });

  it("Redis holds only the token's hash, never the token", async () => {
    const raw = await stack.redis.get(stack.names.jobKey(a.id));
    expect(raw).to.be.a("string");
    const record = JSON.parse(raw ?? "{}") as { tokenHash?: string };
    expect(record.tokenHash).to.equal(hashToken(a.token));
    expect(raw).to.not.include(a.token);
    // Nor anywhere else in the namespace (result, anything added later).
    for (const key of await scanKeys(stack.redis, `${stack.names.namespace}:*`)) {
      const type = await stack.redis.type(key);
      if (type !== "string") continue;
      const value = (await stack.redis.get(key)) ?? "";
      for (const job of [a, b]) expect(value, key).to.not.include(job.token);
    }
  });

  it("ids and tokens differ across many submits", async () => {
    const jobs = await Promise.all(
      Array.from({ length: 40 }, () => submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 })),
    );
    const all = [a, b, ...jobs];
    expect(new Set(all.map((j) => j.id)).size).to.equal(all.length);
    expect(new Set(all.map((j) => j.token)).size).to.equal(all.length);
    for (const j of all) {
      expect(j.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(j.token.length).to.be.at.least(40);
    }
    // Each token opens its own job and no other.
    const [first, second] = jobs;
    if (!first || !second) throw new Error("no jobs");
    expect((await status(first.id, bearer(first.token))).status).to.be.oneOf([200, 303]);
    expectNotFound(await status(second.id, bearer(first.token)));
    await Promise.all(jobs.map((j) => pollToEnd(stack.baseUrl, j)));
  });
});
