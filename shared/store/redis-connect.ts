// Builds every Redis client Herald uses (the one factory): a node-redis client of one server
// (REDIS_URL), or a Redis Cluster client (REDIS_CLUSTER_NODES) when the endpoint is a cluster. Both
// reconnect by themselves and fail fast while disconnected (commands are not queued offline, so an
// HTTP request answers 503 instead of hanging), and both are a RedisClient (redis-client.ts): the
// code that receives one does not know which mode is on.
import { createClient, createCluster } from "redis";
import type { Logger } from "../observability/log.ts";
import { backoffDelay } from "../queue/backoff.ts";
import { redactUrl } from "../runtime/config.ts";
import type { RedisEndpoint } from "../runtime/redis-nodes.ts";
import type { RedisClient, RedisClusterClient, RedisSingleClient } from "./redis-client.ts";
import { trackClusterClient, watchClusterForHangs } from "./redis-cluster-hang-watch.ts";
import { watchForHangs } from "./redis-hang-watch.ts";

/** How long a command may wait for Redis's answer before its connection counts as hung. */
export const redisHangMs = 5_000;

type Use = "commands" | "subscriber";

const socketOptions = {
  connectTimeout: 5_000,
  reconnectStrategy: (retries: number) => backoffDelay(retries, 100, 5_000),
};

export async function connectRedis(
  /** A redis:// URL (one server) or the endpoint from config.redis. */
  endpoint: string | RedisEndpoint,
  log: Logger,
  timeoutMs: number,
  role = "main",
  /** Called each time a lost connection is ready again (the broker reconnects metric). */
  onReconnect?: () => void,
  /** "subscriber": a pub/sub connection, whose few commands keep node-redis's per-command timeout;
   * "commands": the per-command timeout is off, and a hang watch (redis-hang-watch.ts) bounds them. */
  use: Use = "commands",
): Promise<RedisClient> {
  const target: RedisEndpoint = typeof endpoint === "string" ? { mode: "single", url: endpoint } : endpoint;
  const where = target.mode === "single" ? redactUrl(target.url) : target.nodes.map(redactUrl).join(",");
  // Only a single-server client gets the ping hang watch (see clusterClient for why).
  const single = target.mode === "single" ? singleClient(target.url, log, role, onReconnect, use) : null;
  const client: RedisClient =
    single ?? clusterClient(target.mode === "cluster" ? target.nodes : [], log, role, onReconnect, use);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis at ${where} unreachable for ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (err) {
    client.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (single && use === "commands") watchForHangs(single, log, role, redisHangMs);
  if (!single && use === "commands") watchClusterForHangs(client as RedisClusterClient, log, role, redisHangMs);
  return client;
}

/** Logs the first of a run of connection errors and every 20th after it (a dead Redis errors on every retry). */
function errorLog(log: Logger, fields: Record<string, unknown>) {
  let failures = 0;
  return {
    failed(err: Error, more: Record<string, unknown> = {}) {
      failures++;
      if (failures === 1 || failures % 20 === 0) {
        log.error("Redis connection error", {
          ...fields,
          ...more,
          error: err.message,
          hint: "start it with `redis-server` (or `docker compose up redis`), or set REDIS_URL / REDIS_CLUSTER_NODES",
        });
      }
    },
    restored(more: Record<string, unknown> = {}) {
      if (failures > 0) log.info("Redis connection restored", { ...fields, ...more });
      failures = 0;
    },
  };
}

function singleClient(url: string, log: Logger, role: string, onReconnect: (() => void) | undefined, use: Use) {
  const client: RedisSingleClient = createClient({
    url,
    disableOfflineQueue: true,
    socket: socketOptions,
    commandOptions: { timeout: use === "commands" ? 0 : redisHangMs },
  });
  const errors = errorLog(log, { url: redactUrl(url), role });
  // Without an 'error' listener node-redis would crash the process on the first socket error.
  client.on("error", (err: Error) => errors.failed(err));
  let readyBefore = false;
  client.on("ready", () => {
    if (readyBefore) onReconnect?.();
    readyBefore = true;
    errors.restored();
  });
  return client;
}

// A cluster client holds one connection per node, each reconnecting on its own; a node that stays
// down has its slots rediscovered (node-redis refreshes the topology 5 s after a node's first
// reconnect attempt, and on MOVED), so a replica promoted in its place is used without a restart.
// The ping hang watch works per connection and a cluster's connections are its own, so commands
// here keep node-redis's per-command timeout (a hung node's commands reject after redisHangMs), and
// redis-cluster-hang-watch.ts moves every cluster client off a hung master once it is failed over.
function clusterClient(
  nodes: readonly string[],
  log: Logger,
  role: string,
  onReconnect: (() => void) | undefined,
  use: Use,
) {
  const first = new URL(nodes[0] ?? "redis://127.0.0.1:6379");
  const client: RedisClusterClient = createCluster({
    rootNodes: nodes.map((url) => ({ url })),
    // Every node connection (also to nodes discovered later) is built from these, not from rootNodes.
    defaults: {
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      disableOfflineQueue: true,
      socket: first.protocol === "rediss:" ? { ...socketOptions, tls: true } : socketOptions,
    },
    useReplicas: false, // reads from masters only: a replica may lag behind a commit
    // A pub/sub client needs only the node(s) it subscribes on, not a connection to every master.
    minimizeConnections: use === "subscriber",
    commandOptions: { timeout: redisHangMs },
  });
  trackClusterClient(client);
  const errors = errorLog(log, { nodes: nodes.map(redactUrl).join(","), role });
  // Both listeners matter: 'error' (topology discovery) crashes the process when nobody listens.
  client.on("error", (err: Error) => errors.failed(err));
  client.on("node-error", (err: Error, node: { host: string; port: number }) =>
    errors.failed(err, { node: `${node.host}:${node.port}` }),
  );
  // A cluster client emits no 'ready' of its own; the change feed, the control channel and the job
  // type registry listen for it to re-read what they may have missed while a connection was down.
  // So once connected, every node connection that becomes ready (a reconnect, or a promoted replica
  // that now holds slots or the subscriptions) is announced as 'ready', as a single client's would be.
  let connected = false;
  client.on("connect", () => {
    connected = true;
  });
  const readyBefore = new Set<string>();
  client.on("node-ready", (node: { host: string; port: number }) => {
    const address = `${node.host}:${node.port}`;
    if (readyBefore.has(address)) onReconnect?.();
    readyBefore.add(address);
    errors.restored({ node: address });
    if (connected) client.emit("ready");
  });
  return client;
}
