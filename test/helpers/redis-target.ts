// Where a harness's Herald keeps its state: one Redis (REDIS_URL) or a Redis Cluster
// (REDIS_CLUSTER_NODES), and the harness's own client of it (namespace clean-up, job type
// definitions, witnesses). Process clusters (cluster.ts), the soak and the cluster fault tests take
// a target instead of a URL; only this file knows how each kind is reached.
//
//   const target = clusterTarget(redisCluster.nodes);   // or standaloneTarget(REDIS_URL)
//   redisEnv(target);                                    // { REDIS_CLUSTER_NODES: "127.0.0.1:p1,…" }
//   const redis = await connectTarget(target, log);      // Herald's own factory builds it
import type { Logger } from "../../shared/observability/log.ts";
import { parseRedisClusterNodes, type RedisEndpoint } from "../../shared/runtime/redis-nodes.ts";
import type { RedisClient } from "../../shared/store/redis-client.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";

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

/** A harness client of the target, from Herald's one client factory (connectRedis): a cluster
 * client for a Redis Cluster, else a client of the one server. */
export function connectTarget(
  t: RedisTarget,
  log: Logger,
  role = "harness",
  use: "commands" | "subscriber" = "commands",
): Promise<RedisClient> {
  const endpoint: RedisEndpoint =
    t.kind === "cluster" ? { mode: "cluster", nodes: parseRedisClusterNodes(t.nodes) } : { mode: "single", url: t.url };
  return connectRedis(endpoint, log, 5_000, role, undefined, use);
}
