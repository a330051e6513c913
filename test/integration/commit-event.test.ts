// A commit can carry the job's realtime event (CommitOptions.event): commit-job.lua SPUBLISHes it on
// the job's events channel with the write, in the same step, and only if the write happens. Without
// one (its committer publishes after the commit) the script publishes nothing. Real Redis.
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { pollUntil } from "../helpers/net.ts";
import { log, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";

describe("commit-job.lua: the realtime event published with the commit; an ending drops the lease", () => {
  const n = names(randomNamespace("commit-event"));
  let redis: RedisClient;
  let sub: RedisClient;

  before(async () => {
    redis = await connectRedis(REDIS_URL, log, 5_000);
    sub = await connectRedis(REDIS_URL, log, 5_000, "sub", undefined, "subscriber");
  });
  after(async () => {
    await sub.close();
    await removeNamespace(n, redis);
    await redis.close();
  });

  it("SPUBLISHes the event on the job's events channel once the write lands, never for a refused one", async () => {
    const store = new RedisJobStore(redis, n, 60);
    const { record } = newJob("demo");
    await store.create(record);
    const heard: string[] = [];
    await sub.sSubscribe(n.jobEventsChannel(record.id), (m) => heard.push(m));
    const next = { ...record, version: 2, progress: { percent: 50 } };

    expect(await store.commit({ ...record, version: 3 }, { event: Buffer.from("stale") })).to.equal("conflict");
    expect(await store.commit(next, { event: Buffer.from("v2") })).to.equal("committed");
    expect(await store.commit({ ...next, version: 3 })).to.equal("committed"); // no event: nothing published
    expect(await store.commit({ ...next, version: 4 }, { event: Buffer.from("v4") })).to.equal("committed");

    // One subscriber connection gets messages in publish order: once v4's event is in, anything
    // the refused commit or the event-less one had published would be in before it.
    await pollUntil(async () => (heard.includes("v4") ? true : undefined), {
      timeoutMs: 10_000,
      what: "the published messages",
    });
    expect(heard).to.deep.equal(["v2", "v4"]);
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
