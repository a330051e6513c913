// The Python worker, like Herald's (test/integration/lease-after-redis-trouble.test.ts), does not take a
// lapsed lease for its holder's death right after Redis trouble: the holder could not renew either.
// A job left running by a "dead" attempt (its lease lapsed) gets a fresh copy of its message; the
// Python worker takes it over when it saw no trouble, drops the copy as a duplicate right after its
// Redis link was cut and came back, and takes over a lease lapsed longer than the cap even then.
// Real Redis and RabbitMQ; the trouble is a real cut of the worker's Redis link (a TCP proxy).
import { expect } from "chai";
import type { RetryPolicy } from "../../shared/jobs/job-types.ts";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import { createWorkerMetrics, Registry } from "../../shared/observability/metrics.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { troubleCapMs } from "../../shared/store/redis-trouble.ts";
import { beginAttempt } from "../../shared/worker/begin-attempt.ts";
import { pollUntil } from "../helpers/net.ts";
import { killAll, type Spawned } from "../helpers/processes.ts";
import { startPythonWorker } from "../helpers/python-worker.ts";
import { log, noLimits, type Stack, startStack } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const leaseMs = 1_500;
const payload = { text: "one two three" };

describe("faults: the Python worker's lease takeover after Redis trouble", function () {
  this.timeout(120_000);
  let stack: Stack | undefined;
  let redisLink: TcpProxy | undefined;
  let worker: Spawned | undefined;
  let store: RedisJobStore | undefined;

  before(async () => {
    stack = await startStack({ workers: 0, leaseMs, env: noLimits });
    store = new RedisJobStore(stack.redis, stack.names, 3_600);
    redisLink = await startTcpProxy({ port: 6379 });
    worker = await startPythonWorker({
      REDIS_URL: `redis://127.0.0.1:${redisLink.port}`,
      HERALD_NAMESPACE: stack.names.namespace,
      LEASE_MS: String(leaseMs),
      WORD_COUNT_CHUNK_DELAY_MS: "0",
    });
  });
  after(async () => {
    await killAll(worker);
    await redisLink?.close();
    await stack?.close();
  });

  const s = (): { stack: Stack; store: RedisJobStore; worker: Spawned } => {
    if (!stack || !store || !worker) throw new Error("setup failed");
    return { stack, store, worker };
  };

  /** A word-count job running attempt 1 of a worker that died: its lease has lapsed. */
  async function lapsedRunningJob(): Promise<JobRecord> {
    const { record } = newJob("word-count");
    await s().store.create(record, { payload });
    const deps = { store: s().store, events: { publish: () => undefined }, log, leaseMs };
    const begun = await beginAttempt(
      { ...deps, metrics: createWorkerMetrics(new Registry()) },
      record.id,
      { maxAttempts: 3 } as RetryPolicy,
      false,
    );
    if (begun.kind !== "run") throw new Error(`the dead attempt did not start: ${begun.kind}`);
    const expires = await s().store.leaseExpiresAt(record.id);
    // Waiting on the clock is the point: the lease must have lapsed.
    await pollUntil(async () => expires !== null && Date.now() > expires + 5, { timeoutMs: 10_000, everyMs: 50 });
    return begun.job;
  }

  /** A fresh copy of the job's message, as a second publish (the watchdog's, a replay) would send. */
  const sendCopy = (job: JobRecord) => s().stack.apiQueue.publish({ v: 1, jobId: job.id, type: "word-count", payload });

  const logged = (msg: string, jobId: string) =>
    s()
      .worker.stderr()
      .split("\n")
      .some((line) => line.includes(`"msg": "${msg}"`) && line.includes(jobId));

  const endsSucceeded = (job: JobRecord) =>
    pollUntil(
      async () => {
        const cur = await s().store.get(job.id);
        return cur?.status === "succeeded" && cur;
      },
      { timeoutMs: 30_000, what: `job ${job.id} to succeed` },
    );

  it("with no trouble seen: takes the lapsed job over and runs it (attempt 2)", async () => {
    const job = await lapsedRunningJob();
    await sendCopy(job);
    const end = await endsSucceeded(job);
    expect(end.attempts).to.equal(2);
    expect(end.attemptId).not.to.equal(job.attemptId);
  });

  describe("right after its Redis link was cut and came back", () => {
    before(async () => {
      const link = redisLink as TcpProxy;
      const w = s().worker;
      const restored = () => w.stderr().split('"control channel subscription restored"').length;
      const before = restored();
      await link.cut();
      try {
        await pollUntil(() => w.stderr().includes('"control channel lost; resubscribing"'), {
          timeoutMs: 20_000,
          what: "the worker to lose its Redis link",
        });
      } finally {
        link.resume();
      }
      await pollUntil(() => restored() > before, { timeoutMs: 20_000, what: "the worker's Redis link back" });
    });

    it("drops the copy as a duplicate and leaves the job to its holder", async () => {
      const job = await lapsedRunningJob();
      await sendCopy(job);
      await pollUntil(() => logged("dropping a second copy of a running job's message", job.id), {
        timeoutMs: 20_000,
        what: "the worker to drop the copy",
      });
      const cur = await s().store.get(job.id);
      expect(cur).to.include({ status: "running", version: job.version, attempts: 1, attemptId: job.attemptId });
    });

    it("still takes over a lease that lapsed longer ago than the cap", async () => {
      const job = await lapsedRunningJob();
      const n = s().stack.names;
      await s().stack.redis.zAdd(n.leasesKey(n.shardOf(job.id)), {
        score: Date.now() - troubleCapMs - leaseMs,
        value: job.id,
      });
      await sendCopy(job);
      const end = await endsSucceeded(job);
      expect(end.attempts).to.equal(2);
    });
  });
});
