// The one Redis client type Herald passes around: a node-redis client of one server, or a node-redis
// Redis Cluster client. Both run the same commands (GET, EVALSHA, MULTI, PUBLISH, SUBSCRIBE,
// SSUBSCRIBE, ...) with the same signatures, so code that receives a RedisClient works in either
// mode without asking which; a cluster routes each command by its first key. Only connectRedis
// (redis-connect.ts) builds them, and only the helpers here look at which kind they hold.
import type { createClient, createCluster } from "redis";

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
