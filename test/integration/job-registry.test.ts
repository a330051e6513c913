// Issue 9, "A job type registry": workers announce the job types they serve in Redis, and a running
// API validates POST /jobs against what is announced: it learns a new type, and a new version of a
// type, without a restart. GET /job-types shows each type with its live workers (real worker
// processes below: a graceful stop withdraws, a kill -9 expires). JOB_TYPE_WITHOUT_WORKER decides
// what a known type with no live worker gets.
import { expect } from "chai";
import { z } from "zod";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { describeJobType } from "../../shared/registry/announce.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import { bearer, pollToEnd, postJob, type Reply, request } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type Stack, type StackWorker, startStack } from "../helpers/stack.ts";

const problem = (name: string) => `urn:herald:problem:${name}`;

interface JobTypeListing {
  jobTypes: {
    name: string;
    version: string;
    description: string;
    payload: Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> };
    retry: { maxAttempts: number; backoffBaseMs: number; backoffMaxMs: number; timeoutMs: number };
    announcedAt: string;
    liveWorkers: number;
  }[];
}

const listJobTypes = async (base: string): Promise<JobTypeListing["jobTypes"]> => {
  const reply = await request<JobTypeListing>(`${base}/job-types`);
  expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
  return reply.body.jobTypes;
};

const liveWorkers = async (base: string, name: string): Promise<number | undefined> =>
  (await listJobTypes(base)).find((t) => t.name === name)?.liveWorkers;

/** Submits until the answer has `status` (the API may serve a cached type for JOB_TYPE_CACHE_MS). */
const submitUntil = (base: string, body: unknown, status: number, what: string): Promise<Reply> =>
  pollUntil(
    async () => {
      const reply = await postJob(base, body);
      return reply.status === status ? reply : null;
    },
    { timeoutMs: 15_000, everyMs: 100, what },
  );

const result = async (base: string, job: AcceptedJob): Promise<unknown> => {
  const end = (await pollToEnd(base, job)).at(-1) as Reply<JobView>;
  expect(end.body.status, JSON.stringify(end.body)).to.equal("succeeded");
  return (await request(`${base}/jobs/${job.id}/result`, { headers: bearer(job.token) })).body;
};

// Two versions of one type: the second takes a list of words instead of a text.
const reverseV1 = defineJobType({
  name: "reverse",
  version: "1",
  description: "test: reverses a text",
  payload: z.strictObject({ text: z.string().min(1) }),
});
const reverseV2 = defineJobType({
  name: "reverse",
  version: "2",
  description: "test: reverses the order of words",
  payload: z.strictObject({ words: z.array(z.string()).min(1), upper: z.boolean().default(false) }),
  retry: { maxAttempts: 1 },
});
const v1Handlers = registry([handle(reverseV1, async ({ text }) => ({ reversed: [...text].reverse().join("") }))]);
const v2Handlers = registry([
  handle(reverseV2, async ({ words, upper }) => ({
    reversed: words.toReversed().map((w) => (upper ? w.toUpperCase() : w)),
  })),
]);

describe("issue 9: the job type registry", function () {
  this.timeout(120_000);

  describe("a running API learns types and versions from the workers that announce them", () => {
    let stack: Stack | undefined;
    let v1: StackWorker | undefined;

    // An API that knows only `demo` (defined, no worker): it has never seen `reverse`. Its cache
    // holds a type for 10 minutes: only the registry's change message can make it see a new one.
    before(async () => {
      stack = await startStack({ workers: 0, handlers: registry([demoHandler]), env: { JOB_TYPE_CACHE_MS: "600000" } });
    });
    after(() => stack?.close());

    it("accepts a type it has never seen once a worker announcing it starts, without a restart", async () => {
      if (!stack) throw new Error("setup failed");
      const base = stack.baseUrl;
      const before = await postJob(base, { type: "reverse", payload: { text: "abc" } });
      expect(before.status).to.equal(422);
      expect(before.body).to.include({ type: problem("unknown-job-type") });
      expect((before.body as { knownTypes: string[] }).knownTypes).to.deep.equal(["demo"]);

      v1 = await stack.addWorker({ handlers: v1Handlers });
      const accepted = await submitUntil(base, { type: "reverse", payload: { text: "abc" } }, 202, "reverse accepted");
      expect(accepted.headers.get("herald-warning"), "a worker serves it").to.equal(null);
      expect(await result(base, accepted.body as AcceptedJob)).to.deep.equal({ reversed: "cba" });

      const listed = (await listJobTypes(base)).find((t) => t.name === "reverse");
      expect(listed).to.include({ version: "1", description: "test: reverses a text", liveWorkers: 1 });
      expect(listed?.payload.properties?.text).to.include({ type: "string", minLength: 1 });
      // The OpenAPI document is built from the registry when it is asked for.
      const doc = await request<{ components: { schemas: Record<string, Record<string, unknown>> } }>(
        `${base}/openapi.json`,
      );
      expect(doc.body.components.schemas["JobRequest.reverse"]).to.nested.include({
        "properties.payload.properties.text.type": "string",
      });
    });

    it("picks up a second version (new schema) announced by a new worker: the old shape is 422, the new 202", async () => {
      if (!stack || !v1) throw new Error("setup failed");
      const base = stack.baseUrl;
      await stack.addWorker({ handlers: v2Handlers });
      const refused = await submitUntil(base, { type: "reverse", payload: { text: "abc" } }, 422, "v1 shape refused");
      expect(refused.body).to.include({ type: problem("invalid-payload") });
      const listed = (await listJobTypes(base)).find((t) => t.name === "reverse");
      expect(listed).to.include({ version: "2", liveWorkers: 2 });
      expect(listed?.retry.maxAttempts).to.equal(1);

      // The v1 worker would fail a v2 payload with its own zod schema: it leaves first (gracefully,
      // withdrawing its entry), then a job of the new shape runs on the v2 worker.
      await v1.stop();
      expect(await liveWorkers(base, "reverse")).to.equal(1);
      const reply = await postJob(base, { type: "reverse", payload: { words: ["a", "b", "c"] } });
      expect(reply.status, JSON.stringify(reply.body)).to.equal(202);
      // The schema's default (`upper: false`) was filled in by the API, as zod would.
      expect(await result(base, reply.body as AcceptedJob)).to.deep.equal({ reversed: ["c", "b", "a"] });
    });

    it("an invalid payload is 422 invalid-payload with the schema's errors", async () => {
      if (!stack) throw new Error("setup failed");
      const reply = await postJob(stack.baseUrl, {
        type: "reverse",
        payload: { words: "not a list", upper: "yes", extra: 1 },
      });
      expect(reply.status).to.equal(422);
      expect(reply.contentType).to.match(/^application\/problem\+json/);
      const body = reply.body as { type: string; detail: string; errors: Record<string, unknown>[] };
      expect(body.type).to.equal(problem("invalid-payload"));
      expect(body.detail).to.include("reverse");
      const where = body.errors.map((e) => `${e.path} ${e.keyword}`);
      expect(where).to.include.members(["/words type", "/upper type", " additionalProperties"]);
      for (const e of body.errors) expect(e.message).to.be.a("string").that.is.not.empty;
      // Missing a required field: said where.
      const missing = await postJob(stack.baseUrl, { type: "reverse", payload: {} });
      expect((missing.body as { errors: Record<string, unknown>[] }).errors).to.deep.include({
        path: "",
        keyword: "required",
        message: "must have required property 'words'",
        params: { missingProperty: "words" },
      });
    });
  });

  describe("the API's cached copy of a type", () => {
    it("an API that missed the change message sees the new version when its cached copy expires", async () => {
      const stack = await startStack({
        workers: 0,
        handlers: v1Handlers,
        env: { JOB_TYPE_CACHE_MS: "300" },
      });
      try {
        const base = stack.baseUrl;
        expect((await postJob(base, { type: "reverse", payload: { text: "abc" } })).status).to.equal(202); // cached now
        // Version 2 written the way an announcement writes it, but with no change message published.
        const v2 = { ...describeJobType(reverseV2), announcedAt: Date.now() };
        await stack.redis.hSet(stack.names.jobTypesKey, "reverse", JSON.stringify(v2));
        const refused = await submitUntil(base, { type: "reverse", payload: { text: "abc" } }, 422, "v1 shape refused");
        expect(refused.body).to.include({ type: problem("invalid-payload") });
        expect((await postJob(base, { type: "reverse", payload: { words: ["x"] } })).status).to.equal(202);
      } finally {
        await stack.close();
      }
    });
  });

  describe("GET /job-types counts live workers: real worker processes, a short JOB_TYPE_TTL_MS", () => {
    let cluster: Cluster | undefined;
    // Short, so a killed worker lapses within seconds; not so short that a live one, descheduled on
    // a busy host, misses three refreshes in a row.
    const ttlMs = 4_000;

    before(async () => {
      cluster = await startCluster({ apis: 1, workers: 2, workerEnv: { JOB_TYPE_TTL_MS: String(ttlMs) } });
    });
    after(() => cluster?.stop());

    it("lists the bundled types with schemas, versions and retry; the count goes up, down on a graceful stop, to 0 when a killed worker's announcement expires", async () => {
      if (!cluster) throw new Error("setup failed");
      const base = cluster.apis[0]?.url ?? "";
      const types = await listJobTypes(base);
      expect(types.map((t) => t.name)).to.deep.equal(["csv-summary", "demo"]);
      const demo = types.find((t) => t.name === "demo");
      expect(demo?.liveWorkers).to.equal(2);
      expect(demo?.version).to.match(/^[0-9a-f]{12}$/); // no version given: a digest of the definition
      expect(demo?.retry).to.deep.equal({
        maxAttempts: 3,
        backoffBaseMs: 200,
        backoffMaxMs: 2_000,
        timeoutMs: 600_000,
      });
      expect(demo?.payload.properties?.steps).to.include({ type: "integer", minimum: 1, maximum: 1000, default: 5 });
      expect(Date.parse(demo?.announcedAt ?? "")).to.be.a("number").and.not.NaN;
      expect(types.find((t) => t.name === "csv-summary")?.liveWorkers).to.equal(2);

      const [first, second] = cluster.workers;
      if (!first || !second) throw new Error("two workers expected");
      // A graceful stop withdraws at once (the entry would otherwise hold for the TTL).
      const exit = await second.stop();
      expect(exit?.code, second.output().slice(-2_000)).to.equal(0);
      expect(await liveWorkers(base, "demo")).to.equal(1);
      // A second worker again: counted as soon as it is up.
      await second.restart();
      expect(await liveWorkers(base, "demo")).to.equal(2);
      await first.stop();
      expect(await liveWorkers(base, "demo")).to.equal(1);
      // A kill -9 says nothing: the entry lapses when its announcement expires.
      await second.kill("SIGKILL");
      await pollUntil(async () => (await liveWorkers(base, "demo")) === 0, {
        timeoutMs: ttlMs * 10,
        everyMs: 100,
        what: "the killed worker's announcement expired",
      });
      // The types stay known: a submission is queued, with the warning (the default policy).
      const queued = await postJob(base, { type: "demo", payload: { steps: 1, stepMs: 0 } });
      expect(queued.status).to.equal(202);
      expect(queued.headers.get("herald-warning")).to.match(/^no-worker-for-type/);

      // Back up (the same worker id): counted again, and the queued job runs.
      await first.restart();
      await pollUntil(async () => (await liveWorkers(base, "demo")) === 1, { what: "the restarted worker counted" });
      const job = queued.body as AcceptedJob;
      expect((await pollToEnd(base, job)).at(-1)?.body.status).to.equal("succeeded");
    });
  });

  describe("JOB_TYPE_WITHOUT_WORKER: a known type that no live worker serves", () => {
    let stack: Stack | undefined;
    afterEach(() => stack?.close());

    it("accept (the default): queued with a Herald-Warning header; it runs once a worker starts", async () => {
      stack = await startStack({ workers: 0, handlers: registry([demoHandler]) });
      const base = stack.baseUrl;
      const reply = await postJob(base, { type: "demo", payload: { steps: 1, stepMs: 0 } });
      expect(reply.status).to.equal(202);
      expect(reply.headers.get("herald-warning")).to.match(/^no-worker-for-type: /);
      const job = reply.body as AcceptedJob;
      expect((await request<JobView>(`${base}/jobs/${job.id}`, { headers: bearer(job.token) })).body.status).to.equal(
        "queued",
      );

      await stack.addWorker();
      expect((await pollToEnd(base, job)).at(-1)?.body.status).to.equal("succeeded");
      const served = await pollUntil(
        async () => {
          const r = await postJob(base, { type: "demo", payload: { steps: 1, stepMs: 0 } });
          return r.status === 202 && r.headers.get("herald-warning") === null ? r : null;
        },
        { timeoutMs: 15_000, everyMs: 100, what: "a 202 without the warning" },
      );
      expect(served.status).to.equal(202);
    });

    it("reject: 422 no-worker-for-type, nothing recorded; 202 once a worker serves it", async () => {
      stack = await startStack({
        workers: 0,
        handlers: registry([demoHandler]),
        env: { JOB_TYPE_WITHOUT_WORKER: "reject" },
      });
      const base = stack.baseUrl;
      const reply = await postJob(base, { type: "demo", payload: { steps: 1, stepMs: 0 } });
      expect(reply.status).to.equal(422);
      expect(reply.contentType).to.match(/^application\/problem\+json/);
      expect(reply.body).to.include({ type: problem("no-worker-for-type"), jobType: "demo" });
      const n = stack.names;
      const recent = (await Promise.all(n.shards.map((k) => stack?.redis.zCard(n.recentJobsKey(k))))).reduce(
        (a: number, b) => a + (b ?? 0),
        0,
      );
      expect(recent, "no job recorded").to.equal(0);
      // Still validated first: an invalid payload is invalid-payload, whatever the workers.
      const invalid = await postJob(base, { type: "demo", payload: { steps: 0 } });
      expect(invalid.body).to.include({ type: problem("invalid-payload") });

      await stack.addWorker();
      const accepted = await submitUntil(
        base,
        { type: "demo", payload: { steps: 1, stepMs: 0 } },
        202,
        "accepted once a worker serves demo",
      );
      expect((await pollToEnd(base, accepted.body as AcceptedJob)).at(-1)?.body.status).to.equal("succeeded");
    });
  });
});
