// A Redis that stops answering without closing its connections (frozen with SIGSTOP) must not hold
// commands for ever: command connections run no per-command timer (it is costly), so the hang watch
// (shared/store/redis-hang-watch.ts) drops a connection whose PING stays unanswered, which rejects
// what is pending (the store's callers get StoreUnavailableError, HTTP 503); once Redis answers
// again, the same client works again.
import { expect } from "chai";
import { StoreUnavailableError } from "../../shared/store/job-store.ts";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { pollUntil } from "../helpers/net.ts";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.ts";
import { log, randomNamespace } from "../helpers/stack.ts";

describe("faults: Redis hangs (frozen with SIGSTOP)", function () {
  this.timeout(120_000);
  let redis: PrivateRedis | undefined;
  let client: RedisClient | undefined;

  afterEach(async () => {
    redis?.signal("SIGCONT");
    await client?.close().catch(() => undefined);
    await redis?.stop();
  });

  it("a pending command is rejected (not held) and the client recovers once Redis answers again", async () => {
    redis = await startPrivateRedis();
    let reconnects = 0;
    client = await connectRedis(redis.url, log, 5_000, "store", () => reconnects++);
    const store = new RedisJobStore(client, names(randomNamespace("hang")), 60);
    expect(await store.get("00000000-0000-4000-8000-000000000000")).to.equal(null);

    redis.signal("SIGSTOP");
    const pending = store.get("00000000-0000-4000-8000-000000000001").then(
      () => "answered" as const,
      (err: unknown) => err,
    );
    // No deadline of the test's own decides this: the command settles by itself, or the test times out.
    const outcome = await pending;
    expect(outcome).to.be.instanceOf(StoreUnavailableError, `a frozen Redis answered: ${String(outcome)}`);

    redis.signal("SIGCONT");
    const c = client;
    await pollUntil(async () => (c.isReady ? true : undefined), {
      timeoutMs: 60_000,
      everyMs: 100,
      what: "the client to be ready again",
    });
    expect(await store.get("00000000-0000-4000-8000-000000000002")).to.equal(null);
    expect(reconnects).to.be.at.least(1, "the hung connection was replaced");
  });
});
