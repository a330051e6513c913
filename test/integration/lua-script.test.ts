// Store scripts run by SHA1 (EVALSHA); a Redis that does not know a script yet (fresh, restarted,
// SCRIPT FLUSH) gets its text once (EVAL), and knows it from then on. A script text no Redis has
// seen stands for the unknown script, so the shared Redis's cache is never flushed.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { LuaScript } from "../../shared/store/lua-script.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { log, REDIS_URL } from "../helpers/stack.ts";

describe("LuaScript (EVALSHA with an EVAL fallback)", () => {
  let redis: RedisClient;
  before(async () => {
    redis = await connectRedis(REDIS_URL, log, 5_000);
  });
  after(async () => {
    await redis.close();
  });

  it("runs a script Redis does not know, and Redis knows it afterwards", async () => {
    const script = new LuaScript(`-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1], ARGV[2]}`);
    expect(await redis.scriptExists(script.sha)).to.deep.equal([0]);
    const first = await script.run(redis, { keys: ["k"], arguments: ["a", "b"] });
    expect(first).to.deep.equal(["k", "a", "b"]);
    expect(await redis.scriptExists(script.sha)).to.deep.equal([1]);
    const again = await script.run(redis, { keys: ["k2"], arguments: ["c", "d"] });
    expect(again).to.deep.equal(["k2", "c", "d"]);
  });

  it("passes a script's own errors through (no second run)", async () => {
    const key = `test-lua-${randomUUID()}`;
    const script = new LuaScript(
      `-- ${randomUUID()}\nredis.call('INCR', KEYS[1])\nreturn redis.error_reply('ERR nope')`,
    );
    const err = await script.run(redis, { keys: [key], arguments: [] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(String(err)).to.contain("nope");
    expect(await redis.get(key)).to.equal("1", "the script ran once");
    await redis.del(key);
  });
});
