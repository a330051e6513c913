// A lease that lapsed while Redis was in trouble is not taken as its holder's death (a cluster soak
// failed a job that way: attempt 3 of 3 ran through a Redis master kill, its worker could not renew
// the lease during the failover, and a second copy of the job's message, delivered just after,
// found the lease lapsed and gave the job up as out of attempts; the live attempt's success was
// then fenced off). beginAttempt counts a lapsed lease live until a grace (the longer of LEASE_MS
// and troubleGraceMs) after the last Redis trouble its process saw (RedisTrouble). Real Redis; the trouble is a real connection cut
// through a TCP proxy.
import { expect } from "chai";
import type { JobEventPublisher } from "../../shared/events/job-events.ts";
import type { RetryPolicy } from "../../shared/jobs/job-types.ts";
import { createWorkerMetrics, Registry } from "../../shared/observability/metrics.ts";
import { Sweeper } from "../../shared/recovery/sweeper.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { RedisTrouble, troubleCapMs, troubleGraceMs } from "../../shared/store/redis-trouble.ts";
import { type AttemptDeps, beginAttempt } from "../../shared/worker/begin-attempt.ts";
import { pollUntil } from "../helpers/net.ts";
import { log, REDIS_URL, storeOnFreshNamespace } from "../helpers/stack.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";

const leaseMs = 400;
const policy = { maxAttempts: 3 } as RetryPolicy;
const noEvents: JobEventPublisher = { publish: () => undefined };

describe("a lease that lapsed during Redis trouble is not taken over at once", () => {
  const db = storeOnFreshNamespace("lease-trouble");
  const { n } = db;

  /** beginAttempt for a delivery of `id`, its process having last seen Redis trouble at
   * `troubleAt` (undefined: never). */
  const begin = (id: string, redelivered: boolean, troubleAt?: number) => {
    const deps: AttemptDeps = {
      store: db.store,
      events: noEvents,
      log,
      metrics: createWorkerMetrics(new Registry()),
      leaseMs,
      ...(troubleAt === undefined ? {} : { redisTroubleAt: () => troubleAt }),
    };
    return beginAttempt(deps, id, policy, redelivered);
  };

  /** Sets the job's lease back to have lapsed longer ago than the cap, as a worker dead that long
   * would have left it. */
  const lapsedBeyondCap = (id: string) =>
    db.redis.zAdd(n.leasesKey(n.shardOf(id)), { score: Date.now() - troubleCapMs - leaseMs, value: id });

  /** A job running attempt 1 whose lease has lapsed (its holder stopped renewing). */
  async function lapsedRunningJob(): Promise<string> {
    const { record } = newJob("demo");
    await db.store.create(record, { payload: {} });
    const first = await begin(record.id, false);
    expect(first.kind).to.equal("run");
    const expires = await db.store.leaseExpiresAt(record.id);
    // Waiting on the clock is the point here: the lease must have lapsed.
    await pollUntil(async () => expires !== null && Date.now() > expires + 5, { timeoutMs: 10_000, everyMs: 50 });
    return record.id;
  }

  it("right after Redis trouble: a copy is a duplicate, a redelivery waits (leased until the trouble + the grace); nothing is written", async () => {
    const id = await lapsedRunningJob();
    const before = await db.store.get(id);
    const troubleAt = Date.now();
    const copy = await begin(id, false, troubleAt);
    expect(copy.kind).to.equal("duplicate");
    const redelivery = await begin(id, true, troubleAt);
    expect(redelivery).to.deep.equal({ kind: "leased", until: troubleAt + Math.max(leaseMs, troubleGraceMs) });
    const after = await db.store.get(id);
    expect(after?.version).to.equal(before?.version);
    expect(after?.attemptId).to.equal(before?.attemptId);
  });

  it("without trouble (or once the grace has passed since it), the lapsed lease is taken over", async () => {
    const id = await lapsedRunningJob();
    const longAgo = Date.now() - troubleGraceMs - leaseMs;
    const taken = await begin(id, true, longAgo);
    expect(taken.kind).to.equal("run");
    if (taken.kind === "run") expect(taken.job.attempts).to.equal(2);
    const id2 = await lapsedRunningJob();
    const taken2 = await begin(id2, true);
    expect(taken2.kind).to.equal("run");
  });

  it("trouble that never ends extends a lapsed lease only up to a cap past its expiry", async () => {
    const id = await lapsedRunningJob();
    await lapsedBeyondCap(id); // while Redis trouble goes on now
    const taken = await begin(id, true, Date.now());
    expect(taken.kind).to.equal("run");
  });

  it("the stall sweep, right after Redis trouble, fails only leases lapsed longer than the cap", async () => {
    const sweeper = (troubleAt: number) =>
      new Sweeper({
        store: db.store,
        queue: { publish: async () => undefined },
        events: noEvents,
        log,
        stallTimeoutMs: 1, // any lapsed lease is stalled, but for the trouble
        redisTroubleAt: () => troubleAt,
        queueWatchdogMs: 3_600_000,
        intervalMs: 1_000,
      });
    const id = await lapsedRunningJob();
    await sweeper(Date.now()).sweep();
    expect((await db.store.get(id))?.status, "spared: its worker may be renewing once Redis answers").to.equal(
      "running",
    );
    await sweeper(Date.now() - troubleGraceMs - leaseMs).sweep();
    expect((await db.store.get(id))?.status, "failed once the trouble is long past").to.equal("failed");
    // Lapsed longer than the cap: failed even while trouble goes on.
    const old = await lapsedRunningJob();
    await lapsedBeyondCap(old);
    await sweeper(Date.now()).sweep();
    expect((await db.store.get(old))?.status).to.equal("failed");
  });

  it("RedisTrouble notes when its client's connection fails and when it comes back", async () => {
    const target = new URL(REDIS_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const client = await connectRedis(`redis://${proxy.host}:${proxy.port}`, log, 5_000);
    const trouble = new RedisTrouble(client);
    try {
      expect(trouble.lastAt).to.equal(0);
      await proxy.cut();
      await pollUntil(async () => trouble.lastAt > 0, { timeoutMs: 10_000, what: "the failure noted" });
      const lost = trouble.lastAt;
      proxy.resume();
      await pollUntil(async () => client.isReady, { timeoutMs: 20_000, what: "the client back" });
      await pollUntil(async () => trouble.lastAt > lost, { timeoutMs: 10_000, what: "the recovery noted" });
      expect(await client.ping()).to.equal("PONG");
    } finally {
      trouble.close();
      await client.close().catch(() => undefined);
      await proxy.close();
    }
  });
});
