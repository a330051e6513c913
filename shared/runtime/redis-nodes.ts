// Where Redis is: one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES, which wins).
//
//   REDIS_CLUSTER_NODES=10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379
//   REDIS_CLUSTER_NODES=redis://herald:s3cret@10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379
//
// Entries are `host:port` or `redis[s]://[user:password@]host:port`. The nodes only seed the
// discovery of the cluster's topology; every connection, also to nodes found later, uses the first
// entry's scheme (TLS or not) and credentials, so they are written once. An entry that names
// other credentials, another scheme, a database or options is refused: a cluster has one of each.

export type RedisEndpoint =
  | { readonly mode: "single"; readonly url: string }
  | { readonly mode: "cluster"; readonly nodes: readonly string[] };

/** Splits and completes a REDIS_CLUSTER_NODES list into redis(s):// URLs; throws a TypeError naming
 * the bad entry. */
export function parseRedisClusterNodes(raw: string): readonly string[] {
  const entries = raw.split(",").map((e) => e.trim());
  if (entries.some((e) => e === "")) throw new TypeError("an empty entry (stray comma?)");
  const urls = entries.map((entry) => {
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry);
    let url: URL;
    try {
      url = new URL(hasScheme ? entry : `redis://${entry}`);
    } catch {
      throw new TypeError(`"${entry}" is not host:port or a redis:// URL`);
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      throw new TypeError(`"${entry}" is not host:port or a redis:// or rediss:// URL`);
    }
    if (!url.hostname || !url.port) throw new TypeError(`"${entry}" names no host:port`);
    if ((url.pathname !== "" && url.pathname !== "/") || url.search || url.hash) {
      throw new TypeError(`"${entry}": a cluster node takes no database or options`);
    }
    return url;
  });
  const [first, ...rest] = urls;
  if (!first) throw new TypeError("no node");
  for (const url of rest) {
    if (url.protocol !== first.protocol) throw new TypeError(`"${url.host}": every node uses ${first.protocol}//`);
    if ((url.username || url.password) && (url.username !== first.username || url.password !== first.password)) {
      throw new TypeError(`"${url.host}": credentials differ from the first node's (one cluster, one login)`);
    }
    url.username = first.username;
    url.password = first.password;
  }
  return Object.freeze(urls.map((u) => `${u.protocol}//${u.username || u.password ? auth(u) : ""}${u.host}`));
}

const auth = (u: URL) => `${u.username}${u.password ? `:${u.password}` : ""}@`;
