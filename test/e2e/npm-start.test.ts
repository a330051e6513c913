// The real processes: `npm start` serves a job end to end and stops cleanly on SIGTERM; a missing
// broker makes a process exit non-zero with a message that says what to do.
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { bearer, pollToEnd, request, submit } from "../helpers/http.ts";
import { freePort } from "../helpers/net.ts";
import { exitWithin, killAll, type Spawned, spawnGroup, until } from "../helpers/processes.ts";
import { log, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";

describe("e2e: npm start", function () {
  this.timeout(40_000);
  const namespace = randomNamespace("e2e");
  let proc: Spawned | undefined;

  after(async () => {
    await killAll(proc);
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    try {
      await removeNamespace(names(namespace), redis);
    } finally {
      await redis.close();
    }
  });

  it("serves a demo job end to end, then exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    proc = spawnGroup("npm", ["start"], {
      HOST: "127.0.0.1",
      PORT: String(port),
      HERALD_NAMESPACE: namespace,
      LOG_LEVEL: "info",
    });
    const p = proc;
    const failedEarly = p.exited.then(({ code }) => {
      throw new Error(`npm start exited (${code}) before it was ready:\n${p.stderr()}`);
    });
    await Promise.race([
      until(
        async () => {
          p.track(); // note every process as it appears, so cleanup finds them even if this test fails
          return (await request(`${base}/readyz`)).status === 200;
        },
        20_000,
        "GET /readyz answering 200",
      ),
      failedEarly,
    ]);
    failedEarly.catch(() => {});
    p.track();
    const services = p.alive().length;
    expect(services, "npm, the start script, the API and the worker at least").to.be.at.least(4);

    // The API may be up before the worker has announced `demo` (a type the API learns from it).
    await until(
      async () => {
        const listed = await request<{ jobTypes: { name: string; liveWorkers: number }[] }>(`${base}/job-types`);
        return (listed.body.jobTypes.find((t) => t.name === "demo")?.liveWorkers ?? 0) > 0;
      },
      20_000,
      "the worker announcing demo",
    );
    const job = await submit(base, "demo", { steps: 2, stepMs: 50 });
    const end = (await pollToEnd(base, job, { timeoutMs: 15_000 })).at(-1);
    expect(end?.status).to.equal(303);
    const location = end?.headers.get("location");
    expect(location).to.equal(`/jobs/${job.id}/result`);
    const result = await request(`${base}${location}`, { headers: bearer(job.token) });
    expect(result.status).to.equal(200);
    expect(result.body).to.deep.equal({ steps: 2 });

    const stopping = Date.now();
    p.track();
    p.signalGroup("SIGTERM");
    const exit = await exitWithin(p, 12_000);
    // Nothing may be left behind: every process npm started (services included) is gone within the bound too.
    await until(
      async () => p.alive().length === 0,
      12_000 - (Date.now() - stopping),
      "every process of npm start exiting",
    );
    const stderr = p.stderr();
    expect(
      {
        npmExit: exit,
        apiShutDown: /"msg":"shutting down","service":"api"/.test(stderr),
        workerShutDown: /"msg":"shutting down","service":"worker"/.test(stderr),
        secondSignalSeen: stderr.includes("second signal"),
      },
      `stderr:\n${stderr}`,
    ).to.deep.equal({
      npmExit: { code: 0, signal: null },
      apiShutDown: true,
      workerShutDown: true,
      secondSignalSeen: false,
    });
    expect(Date.now() - stopping).to.be.below(12_000);
  });
});

describe("e2e: a broker that cannot be reached", function () {
  this.timeout(30_000);
  const namespace = randomNamespace("e2e");
  const started: Spawned[] = [];

  after(async () => {
    for (const p of started) await killAll(p);
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    try {
      await removeNamespace(names(namespace), redis);
    } finally {
      await redis.close();
    }
  });

  async function startApiExpectingFailure(
    env: Record<string, string>,
  ): Promise<{ code: number | null; ms: number; stderr: string }> {
    const port = await freePort();
    const start = Date.now();
    const p = spawnGroup("npm", ["run", "start:api"], {
      HOST: "127.0.0.1",
      PORT: String(port),
      HERALD_NAMESPACE: namespace,
      CONNECT_TIMEOUT_MS: "1500",
      ...env,
    });
    started.push(p);
    const { code } = await exitWithin(p, 10_000);
    return { code, ms: Date.now() - start, stderr: p.stderr() };
  }

  it("RabbitMQ: exits non-zero within 10 s, naming the URL (password hidden) and rabbitmq-server", async () => {
    const { code, ms, stderr } = await startApiExpectingFailure({ AMQP_URL: "amqp://guest:guest@127.0.0.1:1" });
    expect(code, stderr).to.be.a("number").and.not.equal(0);
    expect(ms).to.be.below(10_000);
    expect(stderr).to.include("amqp://guest:***@127.0.0.1:1");
    expect(stderr).to.not.include("guest:guest");
    expect(stderr).to.include("rabbitmq-server");
  });

  it("Redis: exits non-zero within 10 s, naming the URL (password hidden) and redis-server", async () => {
    const { code, ms, stderr } = await startApiExpectingFailure({ REDIS_URL: "redis://herald:s3cret@127.0.0.1:1" });
    expect(code, stderr).to.be.a("number").and.not.equal(0);
    expect(ms).to.be.below(10_000);
    expect(stderr).to.include("redis://herald:***@127.0.0.1:1");
    expect(stderr).to.not.include("s3cret");
    expect(stderr).to.include("redis-server");
  });
});
