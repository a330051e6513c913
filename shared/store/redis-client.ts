// The one Redis client type Herald passes around: a node-redis client of one server, or a node-redis
// Redis Cluster client. Both run the same commands (GET, EVALSHA, MULTI, PUBLISH, SUBSCRIBE,
// SSUBSCRIBE, ...) with the same signatures, so code that receives a RedisClient works in either
// mode without asking which; a cluster routes each command by its first key. Only connectRedis
// (redis-connect.ts) builds them, and only the helpers here look at which kind they hold.
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  type createClient,
  type createCluster,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from "redis";

export type RedisSingleClient = ReturnType<typeof createClient>;
export type RedisClusterClient = ReturnType<typeof createCluster>;
export type RedisClient = RedisSingleClient | RedisClusterClient;

export const isClusterClient = (client: RedisClient): client is RedisClusterClient => "getMasters" in client;

/** Every key matching `pattern` (SCAN, never KEYS; on a cluster, SCAN of every master), sorted. */
export async function scanKeys(client: RedisClient, pattern: string): Promise<string[]> {
  const nodes = isClusterClient(client)
    ? await Promise.all(client.getMasters().map((m) => client.nodeClient(m)))
    : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    for await (const batch of node.scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...batch);
  }
  return keys.sort();
}

const unreachable = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
];

/** Whether `err` says Redis could not be reached or did not answer (a 503 and a retry), rather than
 * a command's own error (a bug). A single client is simply not ready then; a cluster client stays
 * ready while one node is down, so only the error tells: the node's connection refused or lost, or
 * the cluster answering that the slot has no master yet (CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof ErrorReply) return /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING)\b/.test(err.message);
  if (unreachable.some((type) => err instanceof type)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === "string" &&
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code)
  );
}

/** node-redis's cluster event (cluster-slots.js RESUBSCRIBE_LISTENERS_EVENT, not exported by the
 * package's index) when it moves subscriptions off a node that left the slot map. */
const RESUBSCRIBE_LISTENERS = "__resubscribeListeners";

/**
 * Calls `lost` when one of `client`'s connections fails (a subscription on it may be gone) and
 * `restored` when a connection became ready or node-redis moved subscriptions to another node
 * (they are back, but what was published meanwhile was not delivered). A failing node raises
 * `lost` on every reconnect attempt; `restored` only when something came back. Returns the remover.
 */
export function onConnectionChanges(client: RedisClient, on: { lost(): void; restored(): void }): () => void {
  const lost = () => on.lost();
  const restored = () => on.restored();
  const events: [string, () => void][] = isClusterClient(client)
    ? [
        ["node-error", lost],
        ["ready", restored], // redis-connect.ts announces each ready node connection as 'ready'
        [RESUBSCRIBE_LISTENERS, restored],
        ["sharded-channel-moved-error", restored],
      ]
    : [
        ["error", lost],
        ["ready", restored],
      ];
  const emitter = client as unknown as NodeJS.EventEmitter;
  for (const [event, fn] of events) emitter.on(event, fn);
  return () => {
    for (const [event, fn] of events) emitter.off(event, fn);
  };
}
