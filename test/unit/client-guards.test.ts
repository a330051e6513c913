// Issue 11 (client): the client library checks server answers with hand-written guards instead of
// zod (shared/client/job-guards.ts). They must accept every real job view and reject what is not
// one: compared here with the zod schemas the server validates with, value by value.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { isAcceptedJob, isJobView } from "../../shared/client/job-guards.ts";
import { toView } from "../../shared/jobs/job-view.ts";
import { AcceptedJob, type JobRecord, JobView } from "../../shared/jobs/schemas.ts";

const now = new Date().toISOString();
const record: JobRecord = {
  id: randomUUID(),
  type: "demo",
  status: "running",
  version: 3,
  attempts: 1,
  progress: { percent: 40, message: "step 2 of 5", etaSeconds: 3 },
  tokenHash: "x",
  createdAt: now,
  updatedAt: now,
  startedAt: now,
};

/** Real views (as the server builds them) with every optional field, then broken copies. */
const valid: unknown[] = [
  toView(record),
  toView({ ...record, status: "queued", progress: { percent: 0 }, startedAt: undefined }),
  toView({ ...record, status: "succeeded", finishedAt: now, result: { kind: "stored" } }),
  toView({ ...record, status: "succeeded", result: { kind: "resource", uri: "https://x.example/r/1" } }),
  toView({ ...record, status: "queued", retryAt: now, error: { type: "urn:x", title: "t", status: 500, detail: "d" } }),
  toView({ ...record, status: "failed", error: { type: "urn:x", title: "t", extra: 1 } }),
  toView({ ...record, cancelRequested: true }, { stalled: true }),
];

const base = toView(record) as unknown as Record<string, unknown>;
const broken: unknown[] = [
  null,
  undefined,
  "job",
  42,
  [],
  [base],
  {},
  ...["id", "type", "status", "version", "attempts", "progress", "createdAt", "updatedAt", "statusUrl"].map((k) => {
    const { [k]: _, ...rest } = base;
    return rest;
  }),
  { ...base, id: "not-a-uuid" },
  { ...base, id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8" }, // a v1 UUID
  { ...base, status: "done" },
  { ...base, version: "3" },
  { ...base, version: 1.5 },
  { ...base, attempts: null },
  { ...base, progress: null },
  { ...base, progress: { percent: 101 } },
  { ...base, progress: { percent: -1 } },
  { ...base, progress: { percent: "40" } },
  { ...base, progress: { percent: 40, message: 7 } },
  { ...base, progress: { percent: 40, message: "m".repeat(501) } },
  { ...base, progress: { percent: 40, etaSeconds: -1 } },
  { ...base, createdAt: 0 },
  { ...base, statusUrl: null },
  { ...base, resultUrl: 1 },
  { ...base, startedAt: false },
  { ...base, retryAt: {} },
  { ...base, cancelRequested: "yes" },
  { ...base, stalled: 1 },
  { ...base, error: "boom" },
  { ...base, error: { type: "urn:x" } },
  { ...base, error: { type: "urn:x", title: "t", status: 1.5 } },
  { ...base, error: { type: "urn:x", title: "t", detail: 3 } },
];

describe("issue 11 client: hand-written job view guards (no zod in the browser)", () => {
  it("accept every view the server builds, as zod's JobView does", () => {
    for (const v of valid) {
      expect(JobView.safeParse(v).success, JSON.stringify(v)).to.equal(true);
      expect(isJobView(v), JSON.stringify(v)).to.equal(true);
    }
  });

  it("reject what is not a job view, as zod's JobView does", () => {
    for (const v of broken) {
      expect(JobView.safeParse(v).success, `zod on ${JSON.stringify(v)}`).to.equal(false);
      expect(isJobView(v), JSON.stringify(v) ?? String(v)).to.equal(false);
    }
  });

  it("an accepted job is a view with its token", () => {
    const accepted = { ...base, token: "t0k" };
    expect(AcceptedJob.safeParse(accepted).success).to.equal(true);
    expect(isAcceptedJob(accepted)).to.equal(true);
    for (const bad of [base, { ...base, token: 1 }, { ...base, status: "done", token: "t" }]) {
      expect(AcceptedJob.safeParse(bad).success).to.equal(false);
      expect(isAcceptedJob(bad)).to.equal(false);
    }
  });
});
