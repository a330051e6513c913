// start-attempt.lua: a job never started goes `running` under a new attempt, with its lease, in one
// step; a job in any other state comes back as stored (with its lease), nothing written. The script
// re-encodes the record in Lua: the started record must hold exactly what the worker's own commit
// would have written. Real Redis.
import { expect } from "chai";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { storeOnFreshNamespace } from "../helpers/stack.ts";

describe("start-attempt.lua: a new job started in one step; any other state read, not written", () => {
  const db = storeOnFreshNamespace("start-attempt");
  const { n } = db;

  const stored = async (id: string): Promise<JobRecord> => JSON.parse((await db.redis.get(n.jobKey(id))) ?? "null");
  const queued = async (id: string) => db.redis.zScore(n.queuedKey(n.shardOf(id)), id);

  it("starts a job as the API created it: running, attempt 1, its lease held, out of the queued index", async () => {
    // Non-ASCII text and a slash (which cjson escapes) come back exactly.
    const { record } = newJob("demo", "ßüé/子 owner");
    await db.store.create(record, { payload: { x: 1 } });
    const now = new Date().toISOString();
    const before = Date.now();
    const start = await db.store.startAttempt(record.id, "attempt-1", now, 30_000);
    const expected: JobRecord = {
      ...record,
      status: "running",
      version: 2,
      attempts: 1,
      attemptId: "attempt-1",
      startedAt: now,
      updatedAt: now,
    };
    expect(start).to.deep.equal({ started: true, record: expected });
    expect(await stored(record.id)).to.deep.equal(expected);
    const lease = await db.store.leaseExpiresAt(record.id);
    expect(lease).to.be.within(before + 30_000, Date.now() + 30_000);
    expect(await queued(record.id)).to.equal(null);
    expect(await db.redis.ttl(n.payloadKey(record.id))).to.be.within(1, 60);
  });

  it("a running job comes back as stored, with its lease's expiry, and nothing is written", async () => {
    const { record } = newJob("demo");
    await db.store.create(record);
    const first = await db.store.startAttempt(record.id, "a", new Date().toISOString(), 30_000);
    expect(first.started).to.equal(true);
    const lease = await db.store.leaseExpiresAt(record.id);
    const again = await db.store.startAttempt(record.id, "b", new Date().toISOString(), 60_000);
    expect(again).to.deep.equal({ started: false, record: first.record, leaseExpiresAt: lease });
    expect(await stored(record.id)).to.deep.equal(first.record);
    expect(await db.store.leaseExpiresAt(record.id)).to.equal(lease);
  });

  it("a job past version 1, or whose JSON holds an escape, is not started here", async () => {
    const { record } = newJob("demo");
    await db.store.create(record);
    const retried = { ...record, version: 2, progress: { percent: 100 / 3 } };
    expect(await db.store.commit(retried)).to.equal("committed");
    const back = await db.store.startAttempt(record.id, "a", new Date().toISOString(), 30_000);
    expect(back).to.deep.equal({ started: false, record: retried, leaseExpiresAt: null });

    const quoted = newJob("demo", 'owner "with" quotes').record;
    await db.store.create(quoted);
    const declined = await db.store.startAttempt(quoted.id, "a", new Date().toISOString(), 30_000);
    expect(declined).to.deep.equal({ started: false, record: quoted, leaseExpiresAt: null });
    expect(await stored(quoted.id)).to.deep.equal(quoted);
    expect(await queued(quoted.id)).to.be.a("number");
    expect(await db.store.leaseExpiresAt(quoted.id)).to.equal(null);
  });

  it("a job that is gone is reported so", async () => {
    const { record } = newJob("demo");
    expect(await db.store.startAttempt(record.id, "a", new Date().toISOString(), 30_000)).to.deep.equal({
      started: false,
      record: null,
      leaseExpiresAt: null,
    });
    expect(await db.store.leaseExpiresAt(record.id)).to.equal(null);
  });
});
