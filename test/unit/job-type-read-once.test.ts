// RedisJobTypeRegistry.get: when the cache lapses, the submits in flight share one read of a type
// (one MULTI), unless the cache is off or a change message came after that read began.
import { expect } from "chai";
import { createLogger } from "../../shared/observability/log.ts";
import { RedisJobTypeRegistry } from "../../shared/registry/redis-job-type-registry.ts";
import { names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

const stored = {
  name: "t",
  version: "1",
  description: "",
  payload: { type: "object" },
  retry: { maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60000, timeoutMs: 60000 },
  announcedAt: 1,
};

/** A client whose reads wait until `answer()`, counting the MULTIs sent. */
function fakeRedis() {
  const gates: (() => void)[] = [];
  const client = {
    isReady: true,
    reads: 0,
    multi() {
      client.reads++;
      const m = {
        hGet: () => m,
        zCount: () => m,
        exec: () => new Promise((resolve) => gates.push(() => resolve([JSON.stringify(stored), 1]))),
      };
      return m;
    },
  };
  const answer = () => {
    for (const open of gates.splice(0)) open();
  };
  return { client, redis: client as unknown as RedisClient, answer };
}

describe("unit: job type reads while the cache lapses", () => {
  const log = createLogger("silent");

  it("ten concurrent gets of one type send one read and all get its answer", async () => {
    const { client, redis, answer } = fakeRedis();
    const registry = new RedisJobTypeRegistry({ redis, names: names("t"), log, cacheMs: 1_000 });
    const gets = Promise.all(Array.from({ length: 10 }, () => registry.get("t")));
    answer();
    const got = await gets;
    expect(client.reads).to.equal(1);
    for (const r of got) expect(r?.definition.name).to.equal("t");
  });

  it("with the cache off (JOB_TYPE_CACHE_MS=0) every get reads", async () => {
    const { client, redis, answer } = fakeRedis();
    const registry = new RedisJobTypeRegistry({ redis, names: names("t"), log, cacheMs: 0 });
    const gets = Promise.all([registry.get("t"), registry.get("t"), registry.get("t")]);
    answer();
    await gets;
    expect(client.reads).to.equal(3);
  });

  it("a get after a change message does not join a read that began before it", async () => {
    const { client, redis, answer } = fakeRedis();
    let changed: (name: string) => void = () => {};
    const subscriber = {
      on: () => subscriber,
      subscribe: async (_channel: string, listener: (name: string) => void) => {
        changed = listener;
      },
    } as unknown as RedisClient;
    const registry = new RedisJobTypeRegistry({ redis, names: names("t"), log, cacheMs: 1_000, subscriber });
    await registry.listen();
    const before = registry.get("t");
    changed("t");
    const after = registry.get("t");
    answer();
    await Promise.all([before, after]);
    expect(client.reads).to.equal(2);
  });
});
