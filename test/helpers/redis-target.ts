// Where a harness's Herald keeps its state: one Redis (REDIS_URL) or a Redis Cluster
// (REDIS_CLUSTER_NODES), and the harness's own client of it (namespace clean-up, job type
// definitions, witnesses). Process clusters (cluster.ts), the soak and the cluster fault tests take
// a target instead of a URL; only this file knows how each kind is reached.
//
//   const target = clusterTarget(redisCluster.nodes);   // or standaloneTarget(REDIS_URL)
//   redisEnv(target);                                    // { REDIS_CLUSTER_NODES: "127.0.0.1:p1,…" }
//   const redis = await connectTarget(target, "harness");
//   await deleteMatching(redis, `${ns}:*`);             // SCAN on every master, DEL per slot
import { createCluster } from "redis";
import type { Logger } from "../../shared/observability/log.ts";
import { backoffDelay } from "../../shared/queue/backoff.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

export type RedisTarget =
  | { readonly kind: "standalone"; readonly url: string }
  /** `host:port,…`, as REDIS_CLUSTER_NODES takes it. */
  | { readonly kind: "cluster"; readonly nodes: string };

export const standaloneTarget = (url: string): RedisTarget => ({ kind: "standalone", url });
export const clusterTarget = (nodes: string): RedisTarget => ({ kind: "cluster", nodes });

/** The target an environment names: REDIS_CLUSTER_NODES wins over REDIS_URL, as in Herald's config. */
export function targetOfEnv(env: Readonly<Record<string, string | undefined>>, fallbackUrl: string): RedisTarget {
  const nodes = env.REDIS_CLUSTER_NODES;
  if (nodes) return clusterTarget(nodes);
  return standaloneTarget(env.REDIS_URL ?? fallbackUrl);
}

/** The settings that point Herald's processes at the target (the other one is left out). */
export function redisEnv(t: RedisTarget): Record<string, string> {
  return t.kind === "cluster" ? { REDIS_CLUSTER_NODES: t.nodes } : { REDIS_URL: t.url };
}

export const describeTarget = (t: RedisTarget): string =>
  t.kind === "cluster" ? `Redis Cluster ${t.nodes}` : `Redis ${t.url}`;

/** node-redis's cluster client, as `createCluster` builds it. */
export type RedisClusterClient = ReturnType<typeof createCluster>;

/**
 * A harness client of the target. For a cluster it is node-redis's cluster client, typed as
 * RedisClient so Herald's classes that take one (the job type registry) accept it: Herald's own
 * client factory for REDIS_CLUSTER_NODES (issue 8) returns the same client behind that type.
 */
export async function connectTarget(
  t: RedisTarget,
  log: Logger,
  role = "harness",
  use: "commands" | "subscriber" = "commands",
): Promise<RedisClient> {
  if (t.kind === "standalone") return connectRedis(t.url, log, 5_000, role, undefined, use);
  const cluster = createCluster({
    rootNodes: t.nodes.split(",").map((hostPort) => ({ url: `redis://${hostPort.trim()}` })),
    defaults: {
      disableOfflineQueue: true,
      socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => backoffDelay(retries, 100, 2_000) },
    },
  });
  // Node errors while a master is down are expected in the fault tests; commands retry or fail.
  cluster.on("error", (err: Error) => log.warn("harness Redis Cluster error", { role, error: err.message }));
  await cluster.connect();
  return cluster as unknown as RedisClient;
}

/** The cluster client behind a harness client, or null for a standalone one. */
export function asCluster(redis: RedisClient): RedisClusterClient | null {
  const c = redis as unknown as Partial<RedisClusterClient>;
  return c.masters !== undefined && typeof c.nodeClient === "function"
    ? (redis as unknown as RedisClusterClient)
    : null;
}

/** Every key matching `pattern` (SCAN on the server, or on each master of a cluster), sorted. */
export async function scanMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  const cluster = asCluster(redis);
  const servers = cluster ? await Promise.all(cluster.masters.map((m) => cluster.nodeClient(m))) : [redis];
  for (const server of servers) {
    for await (const batch of (server as RedisClient).scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...batch);
  }
  return [...new Set(keys)].sort();
}

/** Deletes every key matching `pattern`. On a cluster one DEL per key: a multi-key DEL must be in one slot. */
export async function deleteMatching(redis: RedisClient, pattern: string): Promise<number> {
  const keys = await scanMatching(redis, pattern);
  if (keys.length === 0) return 0;
  if (asCluster(redis)) await Promise.all(keys.map((k) => redis.del(k)));
  else await redis.del(keys);
  return keys.length;
}
