// A Redis Cluster node that stops answering (frozen, or a path that drops packets without closing)
// keeps its TCP connection, so node-redis goes on sending that node's slots to it: each command waits
// out the per-command timeout (redisHangMs) and fails, even once a replica has taken the slots over,
// for as long as the node hangs. node-redis reads the topology again only on MOVED or after a node's
// reconnect attempts, and a hung node gives neither. So every master of a command client is PINGed
// once a second on its own connection; when one stays unanswered for `hangMs`, every cluster client
// of this process (commands and subscribers: their sharded subscriptions move with the slots) reads
// the topology again from the other nodes, so a promoted replica is used as soon as the cluster has
// failed the node over. While the node hangs, that is repeated every `hangMs`.
import type { Logger } from "../observability/log.ts";
import type { RedisClusterClient } from "./redis-client.ts";
import type { HangWatch } from "./redis-hang-watch.ts";

/** This process's open cluster clients: a hang seen by one is news for all. */
const clusterClients = new Set<RedisClusterClient>();

/** Registers a cluster client for topology refreshes after a hang (until it disconnects). */
export function trackClusterClient(client: RedisClusterClient): void {
  clusterClients.add(client);
  client.on("disconnect", () => clusterClients.delete(client));
}

/** Every tracked cluster client reads the topology again, asking nodes other than `hung`. */
export function rediscoverClusters(hung: string, log: Logger, slowMs = 10_000): void {
  for (const client of clusterClients) {
    if (!client.isOpen) continue;
    // node-redis may still fall back to its seed nodes, the hung one among them: say so if it waits.
    const slow = setTimeout(() => log.warn("Redis Cluster topology refresh is taking long", { hung }), slowMs);
    slow.unref();
    client._slots
      .rediscover(undefined, new Set([hung]))
      .catch((err: unknown) => log.warn("Redis Cluster topology refresh failed", { error: String(err) }))
      .finally(() => clearTimeout(slow));
  }
}

export function watchClusterForHangs(
  client: RedisClusterClient,
  log: Logger,
  role: string,
  hangMs: number,
  probeEveryMs = 1_000,
): HangWatch {
  /** Node address → when its outstanding PING was sent. */
  const outstanding = new Map<string, number>();
  /** Node address → when it last answered a PING. */
  const answeredAt = new Map<string, number>();
  /** Nodes reported hung, until they answer again (one log line per hang). */
  const hung = new Set<string>();
  const probe = () => {
    if (!client.isOpen) return;
    const now = Date.now();
    const masters = new Set<string>();
    for (const node of client.masters) {
      const address = node.address;
      masters.add(address);
      const conn = node.client;
      if (!conn?.isReady) {
        outstanding.delete(address);
        continue;
      }
      const sentAt = outstanding.get(address);
      if (sentAt === undefined) {
        outstanding.set(address, now);
        const settled = (answer: boolean) => {
          if (outstanding.get(address) !== now) return; // a probe given up on: a fresh one is out
          outstanding.delete(address);
          if (!answer) return;
          answeredAt.set(address, Date.now());
          if (hung.delete(address)) log.info("Redis Cluster node answers again", { role, node: address });
        };
        // Only a timeout counts as silence: any other rejection (the connection dropped, an error
        // reply such as BUSY or LOADING) is not a hang, and the next tick probes afresh.
        conn.ping().then(
          () => settled(true),
          (err: unknown) => {
            if (!(err instanceof Error && err.name === "TimeoutError")) settled(false);
          },
        );
        continue;
      }
      if (now - sentAt < hangMs) continue;
      outstanding.delete(address); // probe it afresh next tick: still silent, the topology is read again
      if (!hung.has(address)) {
        hung.add(address);
        log.error("Redis Cluster node stopped answering; reading the topology again", {
          role,
          node: address,
          waitedMs: now - sentAt,
        });
      }
      // Only from a node that answers: asking the hung one would wait for it (node-redis's
      // connection handshake has no timeout) and hold up every later refresh meanwhile.
      const another = [...answeredAt].some(([a, at]) => a !== address && now - at < hangMs);
      if (another) rediscoverClusters(address, log);
    }
    for (const address of outstanding.keys()) if (!masters.has(address)) outstanding.delete(address);
    for (const address of answeredAt.keys()) if (!masters.has(address)) answeredAt.delete(address);
    for (const address of hung) if (!masters.has(address)) hung.delete(address);
  };
  const timer = setInterval(probe, probeEveryMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  client.on("disconnect", stop);
  return { stop };
}
