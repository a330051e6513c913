// A private Redis Cluster (test/helpers/redis-cluster.ts: 3 masters + 3 replicas, started once for
// this file) and Herald's Redis factory in cluster mode (connectRedis with REDIS_CLUSTER_NODES'
// endpoint): one client reads and writes across slots, runs MULTI on one key and a LuaScript whose
// keys share a {tag} (EVALSHA routed by its first key; NOSCRIPT answered per node), pub/sub and
// sharded pub/sub reach subscribers whichever node holds the channel, and after kill -9 of a master
// the same client fails fast, then carries on once the replica is promoted, the write intact (AOF).
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { expect } from "chai";
import { loadConfig } from "../../shared/runtime/config.ts";
import { LuaScript } from "../../shared/store/lua-script.ts";
import { isClusterClient, type RedisClient, scanKeys } from "../../shared/store/redis-client.ts";
import { connectRedis, redisHangMs } from "../../shared/store/redis-connect.ts";
import { pollUntil } from "../helpers/net.ts";
import { type PrivateRedisCluster, startRedisCluster } from "../helpers/redis-cluster.ts";
import { log } from "../helpers/stack.ts";

describe("faults: private Redis Cluster, and connectRedis in cluster mode", function () {
  this.timeout(120_000);
  let cluster: PrivateRedisCluster;
  let client: RedisClient;
  let sub: RedisClient;

  before(async () => {
    cluster = await startRedisCluster();
    // Through the config, as the API and the worker get it; REDIS_URL is ignored.
    const { redis } = loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_URL: "redis://127.0.0.1:1" });
    client = await connectRedis(redis, log, 20_000, "store");
    sub = await connectRedis(redis, log, 20_000, "sub", undefined, "subscriber");
  });
  after(async () => {
    for (const c of [sub, client]) await c?.close().catch(() => c.destroy());
    await cluster?.stop();
  });

  /** `n` distinct hash tags whose slots sit on `n` different masters. */
  async function tagsOnDistinctMasters(n: number): Promise<string[]> {
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < n && i < 200; i++) {
      const tag = `{t${i}}`;
      const port = await cluster.masterFor(tag);
      if (!byMaster.has(port)) byMaster.set(port, tag);
    }
    return [...byMaster.values()];
  }

  it("serves keys in every slot, and SCANs every master", async () => {
    expect(isClusterClient(client)).to.equal(true);
    const prefix = `spread-${randomUUID()}`;
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:{job-${i}}:record`);
    for (const k of keys) await client.set(k, k);
    expect(await Promise.all(keys.map((k) => client.get(k)))).to.deep.equal(keys);
    const masters = new Set(await Promise.all(keys.map((k) => cluster.masterFor(k))));
    expect(masters.size, "30 keys spread over the 3 masters").to.equal(3);
    expect(await scanKeys(client, `${prefix}:*`)).to.deep.equal([...keys].sort());
  });

  it("runs a MULTI on one key", async () => {
    const key = `multi-${randomUUID()}`;
    const replies = await client.multi().incr(key).pExpire(key, 60_000).incr(key).exec();
    expect(replies).to.deep.equal([1, 1, 2]);
    expect(await client.pTTL(key)).to.be.within(1, 60_000);
  });

  it("runs a LuaScript (keys under one {tag}) on each master, sending its text once per node", async () => {
    const script = new LuaScript(
      `-- ${randomUUID()}\nredis.call('SET', KEYS[1], ARGV[1])\nredis.call('SET', KEYS[2], ARGV[1])\nreturn redis.call('MGET', KEYS[1], KEYS[2])`,
    );
    if (!isClusterClient(client)) throw new Error("not a cluster client");
    for (const tag of await tagsOnDistinctMasters(3)) {
      const keys = [`${tag}:a`, `${tag}:b`];
      const node = await client.getNodeClientForKey(keys[0] as string);
      expect(await node.scriptExists(script.sha), `${tag}'s master has not seen it`).to.deep.equal([0]);
      // NOSCRIPT from that master, then EVAL on the same master.
      expect(await script.run(client, { keys, arguments: [tag] })).to.deep.equal([tag, tag]);
      expect(await node.scriptExists(script.sha)).to.deep.equal([1]);
      expect(await script.run(client, { keys, arguments: ["again"] })).to.deep.equal(["again", "again"]);
    }
  });

  it("delivers PUBLISH and SPUBLISH to subscribers whichever node holds the channel", async () => {
    const channel = `classic-${randomUUID()}`;
    const heard: string[] = [];
    let heardOne: () => void = () => {};
    const got = new Promise<void>((resolve) => (heardOne = resolve));
    await sub.subscribe(channel, (m) => {
      heard.push(m);
      heardOne();
    });
    await client.publish(channel, "hello");
    await got;
    expect(heard).to.deep.equal(["hello"]);
    await sub.unsubscribe(channel);

    const channels = (await tagsOnDistinctMasters(3)).map((tag) => `${tag}:sharded-${randomUUID()}`);
    const sharded = new Map<string, string>();
    let allHeard: () => void = () => {};
    const all = new Promise<void>((resolve) => (allHeard = resolve));
    for (const ch of channels) {
      await sub.sSubscribe(ch, (m, c) => {
        sharded.set(c, m);
        if (sharded.size === channels.length) allHeard();
      });
    }
    for (const ch of channels) expect(await client.sPublish(ch, `to ${ch}`)).to.equal(1);
    await all;
    expect(Object.fromEntries(sharded)).to.deep.equal(Object.fromEntries(channels.map((c) => [c, `to ${c}`])));
    // One SUNSUBSCRIBE per channel: node-redis sends a list as one command (CROSSSLOT across slots).
    for (const ch of channels) await sub.sUnsubscribe(ch);
  });

  it("carries on after kill -9 of a master: fails fast while it is down, then the same client works", async () => {
    if (!isClusterClient(client)) throw new Error("not a cluster client");
    const key = `{failover-${randomUUID()}}:record`;
    await client.set(key, "kept");
    // Replication is asynchronous: WAIT until the replica has the write, so the failover keeps it.
    expect(await client.sendCommand(key, false, ["WAIT", "1", "10000"])).to.equal(1);
    // Subscriptions in the dying master's slot (sharded) and on the pub/sub node (classic).
    const tag = key.slice(0, key.indexOf("}") + 1);
    const shardedChannel = `${tag}:changes`;
    const classicChannel = `classic-${randomUUID()}`;
    const heard = new Set<string>();
    await sub.sSubscribe(shardedChannel, (m) => heard.add(m));
    await sub.subscribe(classicChannel, (m) => heard.add(m));
    const killed = await cluster.masterFor(key);
    // Announced as 'ready' (what the change feed and control channel re-read on) once a node is back.
    const readyAgain = once(client, "ready");
    await cluster.kill(killed);

    // No offline queue: a command for the dead master's slot rejects (the API answers 503) instead of
    // waiting for the failover.
    const started = Date.now();
    const failed = await client.get(key).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed, "a command while the slot's master is dead").to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.below(redisHangMs + 1_000);

    // The replica takes the slot over; node-redis rediscovers the topology by itself (no new client).
    const promoted = await pollUntil(async () => ((await cluster.masterFor(key)) !== killed ? true : null), {
      timeoutMs: 30_000,
      what: "a replica taking the slot over",
    });
    expect(promoted).to.equal(true);
    const value = await pollUntil(() => client.get(key), {
      timeoutMs: 60_000,
      what: "the key readable after failover",
    });
    expect(value).to.equal("kept");
    await readyAgain;
    await client.set(key, "written after failover");
    expect(await client.get(key)).to.equal("written after failover");
    const script = new LuaScript(`-- ${randomUUID()}\nreturn redis.call('GET', KEYS[1])`);
    expect(await script.run(client, { keys: [key], arguments: [] })).to.equal("written after failover");

    // node-redis moves the subscriptions to the slot's new master by itself (pub/sub is at most once:
    // publish until one arrives).
    await pollUntil(
      async () => {
        await client.sPublish(shardedChannel, "sharded after failover");
        await client.publish(classicChannel, "classic after failover");
        return heard.has("sharded after failover") && heard.has("classic after failover");
      },
      { timeoutMs: 30_000, everyMs: 200, what: "both subscriptions delivering after the failover" },
    );
  });
});
