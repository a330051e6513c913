// The private Redis Cluster helper (test/helpers/redis-cluster.ts) that the cluster suites build on:
// it starts 3 masters + 3 replicas, node-redis's cluster client reads and writes across slots, and
// after kill -9 of a master its replica serves the slot with the acknowledged write intact (AOF).
import { expect } from "chai";
import { createCluster } from "redis";
import { pollUntil } from "../helpers/net.ts";
import { type PrivateRedisCluster, startRedisCluster } from "../helpers/redis-cluster.ts";

describe("faults: private Redis Cluster (helper)", function () {
  this.timeout(120_000);
  let cluster: PrivateRedisCluster;

  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  it("serves keys in every slot; a killed master's replica takes over with the data", async () => {
    const client = createCluster({
      rootNodes: cluster.ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })),
      defaults: { socket: { reconnectStrategy: (n: number) => Math.min(50 * n, 500) } },
    });
    client.on("error", () => {}); // node errors while a master is dead; commands retry below
    await client.connect();
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `{job-${i}}:record`);
      for (const k of keys) await client.set(k, k);
      const masters = new Set(await Promise.all(keys.map((k) => cluster.masterFor(k))));
      expect(masters.size, "30 keys spread over the 3 masters").to.equal(3);

      const victim = keys[0] as string;
      // Replication is asynchronous: WAIT until the replica has the write, so the failover keeps it.
      const replicas = await client.sendCommand(victim, false, ["WAIT", "1", "10000"]);
      expect(replicas, "the replica acknowledged the write").to.equal(1);
      const { killed, promoted } = await cluster.killMaster(victim);
      expect(promoted).to.not.equal(killed);
      // A read error (the client still rediscovering the slots) is kept as the poll's last result.
      const value = await pollUntil(() => client.get(victim), {
        timeoutMs: 60_000,
        what: "the key readable after failover",
      });
      expect(value).to.equal(victim);
    } finally {
      await client.close().catch(() => client.destroy());
    }
  });
});
