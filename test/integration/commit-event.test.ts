// A commit can carry the job's realtime event (CommitOptions.event): commit-job.lua publishes it
// with the write, in the same step, and only if the write happens. Without one (the API, a worker
// in another language) the script publishes the change feed alone, as before. Real Redis.
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { pollUntil } from "../helpers/net.ts";
import { log, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";

describe("commit-job.lua: the realtime event published with the commit; an ending drops the lease", () => {
  const n = names(randomNamespace("commit-event"));
  const channel = `${n.namespace}:test-events`;
  let redis: RedisClient;
  let sub: RedisClient;
  const heard: string[] = [];
  const changes: string[] = [];

  before(async () => {
    redis = await connectRedis(REDIS_URL, log, 5_000);
    sub = await connectRedis(REDIS_URL, log, 5_000, "sub", undefined, "subscriber");
    await sub.subscribe(channel, (m) => heard.push(m));
  });
  after(async () => {
    await sub.close();
    await removeNamespace(n, redis);
    await redis.close();
  });

  it("publishes the event once the write lands, never for a refused one", async () => {
    const store = new RedisJobStore(redis, n, 60);
    const { record } = newJob("demo");
    await store.create(record);
    await sub.subscribe(n.jobChangesChannel(record.id), (m) => changes.push(m));
    const event = (tag: string) => ({ channel, message: Buffer.from(tag) });
    const next = { ...record, version: 2, progress: { percent: 50 } };

    expect(await store.commit({ ...record, version: 3 }, { event: event("stale") })).to.equal("conflict");
    expect(await store.commit(next, { event: event("v2") })).to.equal("committed");
    expect(await store.commit({ ...next, version: 3 })).to.equal("committed"); // no event: feed only
    expect(await store.commit({ ...next, version: 4 }, { event: event("v4") })).to.equal("committed");

    // One subscriber connection gets messages in publish order: once v4's event and change are in,
    // anything the refused commit had published would be in before them.
    await pollUntil(async () => (heard.includes("v4") && changes.length >= 3 ? true : undefined), {
      timeoutMs: 10_000,
      what: "the published messages",
    });
    expect(heard).to.deep.equal(["v2", "v4"]);
    expect(changes.map((m) => (JSON.parse(m) as { version: number }).version)).to.deep.equal([2, 3, 4]);
  });

  it("a terminal commit removes the job's lease entry; any other keeps it", async () => {
    const store = new RedisJobStore(redis, n, 60);
    const { record } = newJob("demo");
    await store.create(record);
    await store.holdLease(record.id, 60_000);
    const running = { ...record, version: 2, status: "running" as const, attemptId: "a" };
    expect(await store.commit(running)).to.equal("committed");
    expect(await store.leaseExpiresAt(record.id)).to.be.a("number");
    expect(await store.commit({ ...running, version: 3, status: "succeeded" as const })).to.equal("committed");
    expect(await store.leaseExpiresAt(record.id)).to.equal(null);
  });
});
