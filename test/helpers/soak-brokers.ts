// The brokers of a soak and the harness's view of them: a private AOF Redis and the shared
// RabbitMQ behind a TCP proxy (`npm run soak`), or a private Redis Cluster (3 masters, 3 replicas,
// AOF) and a private 3-node RabbitMQ cluster (`npm run soak -- --clusters`). Either way: the
// settings for the processes, a harness client, a MONITOR tap that attributes every job record
// write to the process that made it (on clusters: a tap per node, reporting the masters' commands),
// and the durable history (every node's AOF).
import { names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { JobWrites } from "./job-writes.ts";
import { freePortsIn } from "./net.ts";
import { type PrivateRedis, startPrivateRedis } from "./private-redis.ts";
import { ClientOwners } from "./proc-sockets.ts";
import { type RabbitCluster, startRabbitCluster } from "./rabbit-cluster.ts";
import { type PrivateRedisCluster, startRedisCluster } from "./redis-cluster.ts";
import { monitorRedis, type RedisMonitor } from "./redis-monitor.ts";
import { clusterTarget, connectTarget, type RedisTarget, standaloneTarget } from "./redis-target.ts";
import type { Owners, SoakBrokers } from "./soak-chaos.ts";
import { type DurableHistory, durableHistory } from "./soak-witnesses.ts";
import { AMQP_URL, log } from "./stack.ts";
import { startTcpProxy } from "./tcp-proxy.ts";

/** Port ranges of the cluster soak's private brokers (apart from test/faults/clusters.test.ts's). */
export const SOAK_CLUSTER_PORTS = {
  redis: { from: 27_450, to: 27_499 },
  rabbit: { from: 27_550, to: 27_599 },
} as const;

export interface SoakBrokerSet {
  readonly brokers: SoakBrokers;
  readonly redis: RedisTarget;
  /** AMQP_URL of the processes (a node list on clusters). */
  readonly amqpUrl: string;
  /** A harness client (reconnects by itself; on clusters it follows failovers). */
  readonly control: RedisClient;
  readonly monitor: RedisMonitor;
  readonly owners: Owners;
  readonly writes: JobWrites;
  syncTap(): Promise<void>;
  rolesChanged(): Promise<void>;
  /** Every job's committed versions, from the AOF(s). */
  durable(): DurableHistory;
  /** The single Redis whose exit is a crash (standalone only: a cluster node's loss is a fault). */
  readonly watchedRedis?: PrivateRedis;
  stop(): Promise<void>;
}

/** Clusters a test started, for a soak to run on (it leaves them running). */
export interface SoakClusters {
  redis: PrivateRedisCluster;
  rabbit: RabbitCluster;
  /** Dirs of Redis nodes restarted after a kill (their AOF starts again from their resync): the
   * soak adds its own. */
  resynced?: Set<string>;
}

export async function startSoakBrokers(
  mode: "standalone" | "clusters",
  namespace: string,
  /** The pids whose Redis connections the tap attributes writes to. */
  pids: () => number[],
  say: (line: string) => void,
  /** On clusters: these, instead of starting a pair. */
  given?: SoakClusters,
): Promise<SoakBrokerSet> {
  return mode === "clusters" ? clusters(namespace, pids, say, given) : standalone(namespace, pids);
}

// No AOF rewrite during the run: the AOF stays the complete history (see soak-witnesses.ts).
export const NO_REWRITE = ["--auto-aof-rewrite-percentage", "0"];

async function standalone(namespace: string, pids: () => number[]): Promise<SoakBrokerSet> {
  const closers: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };
  try {
    const redis = await startPrivateRedis(undefined, NO_REWRITE);
    closers.push(() => redis.stop());
    const broker = new URL(AMQP_URL);
    const proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
    closers.push(() => proxy.close());
    const proxied = new URL(AMQP_URL);
    proxied.port = String(proxy.port);
    const target = standaloneTarget(redis.url);
    const control = await connectTarget(target, log, "soak");
    closers.push(() => control.close());
    const owners = new ClientOwners(redis.port, pids);
    const writes = new JobWrites(namespace, (client) => owners.pidOf(client));
    const monitor = await monitorRedis(redis.port, (c) => writes.onCommand(c));
    closers.push(async () => monitor.close());
    return {
      brokers: { kind: "standalone", redis, proxy },
      redis: target,
      amqpUrl: proxied.href,
      control,
      monitor,
      owners,
      writes,
      syncTap: () => monitor.sync((marker) => control.echo(marker)),
      rolesChanged: async () => undefined,
      durable: () => durableHistory(redis.dir, namespace),
      watchedRedis: redis,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function clusters(
  namespace: string,
  pids: () => number[],
  say: (line: string) => void,
  given: SoakClusters | undefined,
): Promise<SoakBrokerSet> {
  const closers: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };
  try {
    const { redis, rabbit } = given ?? (await startClusters());
    if (!given) {
      closers.push(
        () => redis.stop(),
        () => rabbit.stop(),
      );
    }
    say(`Redis Cluster on ${redis.nodes}; RabbitMQ cluster on ${rabbit.urls.length} nodes (${rabbit.startupMs} ms)`);
    const target = clusterTarget(redis.nodes);
    const control = await connectTarget(target, log, "soak");
    closers.push(() => control.close());

    // A tap per node; only the masters' commands are reported (a replica's are the same writes,
    // received from its master). A client is named `<node port>/<address>`: each node's owners.
    let masters = new Set(await redis.masters());
    const owners = new Map(redis.ports.map((port) => [port, new ClientOwners(port, pids)]));
    const writes = new JobWrites(namespace, (client) => {
      const [port, address] = client.split("/");
      return address === undefined ? undefined : owners.get(Number(port))?.pidOf(address);
    });
    const taps = new Map<number, RedisMonitor>();
    for (const port of redis.ports) {
      taps.set(
        port,
        await monitorRedis(port, (c) => {
          if (masters.has(port)) writes.onCommand({ ...c, client: `${port}/${c.client}` });
        }),
      );
    }
    closers.push(async () => {
      for (const t of taps.values()) t.close();
    });
    // One plain client per node for the tap's markers (an ECHO a node runs itself: no redirection).
    const echoes = new Map<number, RedisClient>();
    for (const port of redis.ports) {
      const client = await connectTarget(standaloneTarget(`redis://127.0.0.1:${port}`), log, `soak-echo-${port}`);
      echoes.set(port, client);
      closers.push(() => client.close());
    }
    const syncTap = async () => {
      await Promise.all(
        [...masters].map((port) => taps.get(port)?.sync((marker) => (echoes.get(port) as RedisClient).echo(marker))),
      );
    };
    const monitor: RedisMonitor = {
      get connected() {
        return [...masters].every((p) => taps.get(p)?.connected);
      },
      get drops() {
        return [...taps.values()].reduce((n, t) => n + t.drops, 0);
      },
      sync: () => syncTap(),
      async reconnect() {
        // Every node's tap anew (a node killed and restarted, roles moved): commands run meanwhile
        // are unattributed, and the chaos reads every record afresh after this.
        for (const t of taps.values()) await t.reconnect().catch(() => undefined);
      },
      expectDrop() {
        for (const t of taps.values()) t.expectDrop();
      },
      close() {
        for (const t of taps.values()) t.close();
      },
    };
    const resynced = given?.resynced ?? new Set<string>();
    return {
      brokers: { kind: "clusters", redis, rabbit, jobsQueue: names(namespace).jobsQueue, resynced },
      redis: target,
      amqpUrl: rabbit.urls.join(","),
      control,
      monitor,
      owners: {
        forgetPid: (pid) => {
          for (const o of owners.values()) o.forgetPid(pid);
        },
        clear: (port) => {
          for (const [p, o] of owners) if (port === undefined || p === port) o.clear();
        },
      },
      writes,
      syncTap,
      rolesChanged: async () => {
        masters = new Set(await redis.masters());
      },
      durable: () => durableHistory([...redis.dirs().values()], namespace, resynced),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startClusters(): Promise<SoakClusters> {
  // Fail early, before a minute of cluster start, if the ranges are taken.
  await freePortsIn(6, SOAK_CLUSTER_PORTS.redis, (p) => [p + 10_000]);
  const [redis, rabbit] = await Promise.all([
    startRedisCluster({ ports: SOAK_CLUSTER_PORTS.redis, extraArgs: NO_REWRITE }),
    startRabbitCluster(3, { ports: SOAK_CLUSTER_PORTS.rabbit }),
  ]);
  return { redis, rabbit };
}
