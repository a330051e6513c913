// The Python worker (examples/python-worker) keeps Herald's "processes stay up" promise: its RabbitMQ
// link and its Redis link are each cut mid-job (through a TCP proxy; the shared brokers are not
// touched). The process stays up, reconnects, and each job ends succeeded in its first attempt.
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { bearer, request, submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { killAll, type Spawned } from "../helpers/processes.ts";
import { startPythonWorker } from "../helpers/python-worker.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const text = Array.from({ length: 3_000 }, (_, i) => `w${i}`).join(" "); // 30 chunks, 100 ms apart

describe("faults: the Python worker through RabbitMQ and Redis cuts", function () {
  this.timeout(120_000);
  let stack: Stack | undefined;
  let amqp: TcpProxy | undefined;
  let redis: TcpProxy | undefined;
  let worker: Spawned | undefined;

  before(async () => {
    stack = await startStack({ workers: 0, leaseMs: 2_000, env: noLimits });
    amqp = await startTcpProxy({ port: 5672 });
    redis = await startTcpProxy({ port: 6379 });
    worker = await startPythonWorker({
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${amqp.port}`,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      HERALD_NAMESPACE: stack.names.namespace,
      LEASE_MS: "2000",
      WORD_COUNT_CHUNK_WORDS: "100",
      WORD_COUNT_CHUNK_DELAY_MS: "100",
    });
  });
  after(async () => {
    await killAll(worker);
    await amqp?.close();
    await redis?.close();
    await stack?.close();
  });

  const s = (): Stack => {
    if (!stack) throw new Error("setup failed");
    return stack;
  };
  const status = async (job: { id: string; token: string }): Promise<JobView> =>
    (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
  const ended = (job: { id: string; token: string }) =>
    pollUntil(
      async () => {
        const v = await status(job);
        return ["succeeded", "failed", "canceled"].includes(v.status) && v;
      },
      { timeoutMs: 60_000, what: `job ${job.id} to end` },
    );
  /** Cuts the link until the worker has noticed (its log says `noticed`), then lets it through again. */
  async function cutUntilNoticed(proxy: TcpProxy, noticed: string): Promise<void> {
    const w = worker as Spawned;
    const before = w.stderr().split(noticed).length;
    await proxy.cut();
    try {
      await pollUntil(() => w.stderr().split(noticed).length > before, {
        timeoutMs: 20_000,
        what: `the worker to log "${noticed}"`,
      });
    } finally {
      proxy.resume();
    }
  }

  for (const [link, noticed] of [
    ["RabbitMQ", "lost the RabbitMQ connection"],
    ["Redis", "progress write failed"],
  ] as const) {
    it(`${link} cut mid-job: the worker stays up and the job succeeds in its first attempt`, async () => {
      const job = await submit(s().baseUrl, "word-count", { text });
      await pollUntil(async () => (await status(job)).progress.percent > 10, {
        timeoutMs: 30_000,
        what: "the job to be under way",
      });
      await cutUntilNoticed(link === "RabbitMQ" ? (amqp as TcpProxy) : (redis as TcpProxy), noticed);
      const end = await ended(job);
      expect(end).to.include({ status: "succeeded", attempts: 1 });
      const result = await request(`${s().baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.body).to.deep.equal({ words: 3_000 });
      expect(worker?.child.exitCode, (worker as Spawned).stderr()).to.equal(null);
      // And it takes new work after the cut.
      const next = await submit(s().baseUrl, "word-count", { text: "one two three" });
      expect(await ended(next)).to.include({ status: "succeeded" });
    });
  }
});
