// Issue 7 item 24: SIGTERM to a real API process (services/api/main.ts). A submit whose body is
// still arriving is refused with `503 shutting-down` (the client retries on another instance),
// `/readyz` never says ready again, and the process exits 0 once its requests are answered.
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { postWithHeldBody, request } from "../helpers/http.ts";
import { freePort, pollUntil } from "../helpers/net.ts";
import { exitWithin, killAll, type Spawned, spawnGroup } from "../helpers/processes.ts";
import { AMQP_URL, log, noLimits, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";

describe("issue 7 item 24: SIGTERM to an API process", function () {
  this.timeout(120_000);
  const namespace = randomNamespace("shutdown");
  let api: Spawned | undefined;
  after(async () => {
    await killAll(api);
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    try {
      await removeNamespace(names(namespace), redis);
    } finally {
      await redis.close();
    }
  });

  it("answers a submit in flight 503 shutting-down, is never ready again, and exits 0", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    api = spawnGroup(process.execPath, ["--import", "tsx", "services/api/main.ts"], {
      ...noLimits,
      AMQP_URL,
      REDIS_URL,
      HOST: "127.0.0.1",
      PORT: String(port),
      HERALD_NAMESPACE: namespace,
      INSTANCE_ID: "api-shutdown",
      SHUTDOWN_GRACE_MS: "20000", // longer than this test needs: the exit must come from the answers
      LOG_LEVEL: "info",
    });
    const spawned = api;
    await pollUntil(async () => (await request(`${base}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      everyMs: 100,
      what: `the API to be ready (stderr: ${spawned.stderr().slice(-2_000)})`,
    });

    const upload = postWithHeldBody(`${base}/jobs`, JSON.stringify({ type: "demo", payload: { steps: 1 } }));
    await upload.continued; // the server has the request; its body is still to come
    spawned.child.kill("SIGTERM");
    await pollUntil(() => spawned.stderr().includes('"shutting down"'), {
      timeoutMs: 30_000,
      what: "the API to log that it is shutting down",
    });
    const ready = await request(`${base}/readyz`).then(
      (r) => r.status,
      () => "refused",
    );
    expect(ready).to.not.equal(200, "a stopping instance never says ready (503, or no listener)");

    const reply = await upload.send();
    expect(reply.status, JSON.stringify(reply.body)).to.equal(503);
    expect((reply.body as { type?: string }).type).to.equal("urn:herald:problem:shutting-down");
    expect(Number(reply.headers.get("retry-after"))).to.be.greaterThan(0);
    const exit = await exitWithin(spawned, 15_000); // well inside SHUTDOWN_GRACE_MS: nothing was left waiting
    expect(exit).to.deep.equal({ code: 0, signal: null }, spawned.stderr().slice(-2_000));
  });
});
