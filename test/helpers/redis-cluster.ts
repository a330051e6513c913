// A private Redis Cluster for tests: 3 masters and 3 replicas on free loopback ports, each a private
// Redis (private-redis.ts: own dir, AOF, so a killed node loses nothing it acknowledged), created with
// `redis-cli --cluster create`. Start it once per test file; `stop()` kills every node and removes
// the dirs. `killMaster(slotKey)` kills -9 the master owning a key's slot and waits until a replica
// has taken the slot over (the failover the fault tests need).
//
//   const cluster = await startRedisCluster();
//   cluster.nodes;                        // "127.0.0.1:p1,127.0.0.1:p2,…" for REDIS_CLUSTER_NODES
//   await cluster.killMaster("{job-1}");  // returns once a replica serves that slot
//   await cluster.restart(killed);        // the node comes back (as a replica of the new master)
//   await cluster.stop();
//
// Ports: free ones the OS picks, or `{ ports: { from, to } }` to keep the nodes in a range (the bus
// ports are 10000 above).
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { keySlot } from "./key-slot.ts";
import { freePorts, freePortsIn, pollUntil } from "./net.ts";
import { type PrivateRedis, startPrivateRedis } from "./private-redis.ts";

const run = promisify(execFile);

export interface PrivateRedisCluster {
  /** Every node, masters first as created (the roles change after a failover). */
  readonly ports: readonly number[];
  /** `host:port,…` of every node (for REDIS_CLUSTER_NODES). */
  readonly nodes: string;
  /** The node currently serving `key`'s slot as master (asks a live node). */
  masterFor(key: string): Promise<number>;
  /** masterFor of many keys, with two questions to a live node. */
  mastersFor(keys: readonly string[]): Promise<number[]>;
  /** kill -9 the master of `key`'s slot; resolves once another node serves that slot as master. */
  killMaster(key: string): Promise<{ killed: number; promoted: number }>;
  /** Freezes (SIGSTOP) the master of `key`'s slot: its connections stay open and nothing answers.
   * Resolves once another node serves that slot as master. */
  freezeMaster(key: string): Promise<{ frozen: number; promoted: number }>;
  /** Thaws (SIGCONT) a frozen node: it learns it was failed over and rejoins as a replica. Resolves,
   * as restart() does, once it is synced and every master's writes reach its replica again. */
  thaw(port: number): Promise<void>;
  /** kill -9 one node by port; resolves when it has exited. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again on its dir (AOF, nodes.conf): it rejoins, a former master as a
   * replica of the node promoted in its place. Resolves once the cluster is ok with it synced and
   * every master's writes reach its replica again (a kill right after a resync could lose some).
   * Needs the other five nodes up: a master without a replica never passes that check. */
  restart(port: number): Promise<void>;
  /** The nodes that are masters now, by port. */
  masters(): Promise<number[]>;
  /** Each node's dir (its AOF), by port: the durable witness of what every node wrote. */
  dirs(): ReadonlyMap<number, string>;
  /** Output of every node so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const cli = (port: number, ...args: string[]) =>
  run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 }).then((r) => r.stdout.trim());

/** The slot ranges of every live master, as `port` sees them. */
async function slotOwners(port: number): Promise<{ lo: number; hi: number; port: number }[]> {
  // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slots…>"
  const owners: { lo: number; hi: number; port: number }[] = [];
  for (const line of (await cli(port, "CLUSTER", "NODES")).split("\n")) {
    const f = line.split(" ");
    if (!(f[2] ?? "").includes("master") || (f[2] ?? "").includes("fail")) continue;
    const owner = Number((f[1] ?? "").split(":")[1]?.split("@")[0]);
    for (const range of f.slice(8)) {
      const [lo, hi] = range.split("-").map(Number);
      if (lo !== undefined && !Number.isNaN(lo)) owners.push({ lo, hi: hi ?? lo, port: owner });
    }
  }
  return owners;
}

/** A key in `slot` (a hash tag found by trying). */
function keyInSlot(slot: number): string {
  for (let i = 0; ; i++) if (keySlot(`{${i}}`) === slot) return `herald-test-replication-check:{${i}}`;
}

/**
 * Whether every master's replica receives its writes now: a write to each master, then WAIT for one
 * replica to acknowledge it, on the same connection. "In sync" (master_link_status:up) is not
 * enough: after a full resync Redis 7.0 may stream nothing more to the replica until its next
 * once-a-second REPLCONF ACK, and a master killed in that window takes its last writes with it.
 */
async function replicasStreaming(port: number): Promise<boolean> {
  const masters = new Map<number, number>(); // master port → one of its slots
  for (const o of await slotOwners(port)) if (!masters.has(o.port)) masters.set(o.port, o.lo);
  const acks = await Promise.all(
    [...masters].map(
      ([master, slot]) =>
        new Promise<boolean>((resolve) => {
          const child = execFile(
            "redis-cli",
            ["-h", "127.0.0.1", "-p", String(master)],
            { timeout: 10_000 },
            (err, out) => {
              // WAIT after a SET that failed (MOVED, TRYAGAIN while a failover settles) would count
              // the replicas without anything to wait for: both answers must be right.
              const [set, acked] = out.trim().split("\n");
              resolve(!err && set === "OK" && acked === "1");
            },
          );
          child.stdin?.end(`SET ${keyInSlot(slot)} 1 PX 60000\nWAIT 1 5000\n`);
        }),
    ),
  );
  return acks.length === 3 && acks.every(Boolean);
}

/** Ports p with p + 10000 (the cluster bus port) free as well. */
async function clusterPorts(n: number): Promise<number[]> {
  for (let tries = 0; tries < 20; tries++) {
    const ports = (await freePorts(n)).filter((p) => p < 55_535);
    if (ports.length < n) continue;
    const busFree = await Promise.all(ports.map((p) => portFree(p + 10_000)));
    if (busFree.every(Boolean)) return ports;
  }
  throw new Error("no free ports for a Redis Cluster (port and port + 10000)");
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

export interface RedisClusterOptions {
  binary?: string;
  /** Keep the node ports in this range (bus ports 10000 above). Default: free ports the OS picks. */
  ports?: { from: number; to: number };
  /** More redis-server options for every node. */
  extraArgs?: readonly string[];
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<PrivateRedisCluster> {
  const binary = opts.binary ?? process.env.REDIS_SERVER_BIN ?? "redis-server";
  const ports = opts.ports ? await freePortsIn(6, opts.ports, (p) => [p + 10_000]) : await clusterPorts(6);
  const nodes: PrivateRedis[] = [];
  const clusterArgs = (port: number) => [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    `nodes-${port}.conf`,
    // Failover within a couple of seconds of a master's death, even on a busy machine.
    "--cluster-node-timeout",
    "2000",
    // Replicas sync at once (the default waits 5 s for more replicas to share one RDB).
    "--repl-diskless-sync-delay",
    "0",
    ...(opts.extraArgs ?? []),
  ];
  const output = () => nodes.map((n) => `--- ${n.port}\n${n.output()}`).join("\n");
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };

  try {
    // Each node answers PING before startPrivateRedis returns.
    for (const port of ports) nodes.push(await startPrivateRedis(binary, clusterArgs(port), port));
    await run(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"],
      { timeout: 60_000 },
    );
    // Ready when every node sees all 16384 slots served and the state ok.
    for (const n of nodes) {
      await pollUntil(
        async () => {
          const info = await cli(n.port, "CLUSTER", "INFO").catch(() => "");
          return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
        },
        { timeoutMs: 30_000, what: `cluster state ok on ${n.port}` },
      );
    }
    // Every replica has synced with its master: a replica that never synced cannot be promoted.
    await pollUntil(
      async () => {
        const roles = await Promise.all(ports.map((p) => cli(p, "INFO", "replication").catch(() => "")));
        return roles.filter((r) => /role:slave/.test(r) && /master_link_status:up/.test(r)).length === 3;
      },
      { timeoutMs: 30_000, what: "three replicas in sync with their masters" },
    );
    await pollUntil(() => replicasStreaming(ports[0] as number), {
      timeoutMs: 30_000,
      what: "every master's writes reaching its replica",
    });
  } catch (err) {
    const logs = output();
    await stop();
    throw new Error(`Redis Cluster did not start: ${(err as Error).message}\n${logs}`);
  }

  /** Nodes frozen with SIGSTOP: alive, but asked nothing (they would not answer). */
  const frozen = new Set<number>();
  const answering = (n: PrivateRedis) => n.alive && !frozen.has(n.port);
  const live = () => {
    const n = nodes.find(answering);
    if (!n) throw new Error("no live cluster node");
    return n.port;
  };

  const mastersFor = async (keys: readonly string[]): Promise<number[]> => {
    const port = live();
    // Every KEYSLOT through one redis-cli (commands on stdin, one answer a line).
    const slots = await new Promise<number[]>((resolve, reject) => {
      const child = execFile("redis-cli", ["-h", "127.0.0.1", "-p", String(port)], { timeout: 10_000 }, (err, out) =>
        err ? reject(err) : resolve(out.trim().split("\n").map(Number)),
      );
      child.stdin?.end(keys.map((k) => `CLUSTER KEYSLOT "${k.replace(/["\\]/g, "\\$&")}"\n`).join(""));
    });
    const owners = await slotOwners(port);
    return slots.map((slot) => {
      const owner = owners.find((o) => slot >= o.lo && slot <= o.hi);
      if (!owner) throw new Error(`no master serves slot ${slot}`);
      return owner.port;
    });
  };
  const masterFor = async (key: string): Promise<number> => (await mastersFor([key]))[0] as number;

  const kill = async (port: number) => {
    const n = nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no node on ${port}`);
    await n.kill();
  };

  const rolesOk = async () => {
    const infos = await Promise.all(
      nodes.map((n) => (answering(n) ? cli(n.port, "INFO", "replication").catch(() => "") : Promise.resolve(""))),
    );
    const states = await Promise.all(
      nodes.map((n) => (answering(n) ? cli(n.port, "CLUSTER", "INFO").catch(() => "") : Promise.resolve(""))),
    );
    const synced = infos.filter((r) => /role:slave/.test(r) && /master_link_status:up/.test(r)).length;
    const live = nodes.filter(answering).length;
    return (
      states.every((s, i) => !answering(nodes[i] as PrivateRedis) || /cluster_state:ok/.test(s)) && synced === live - 3
    );
  };

  /** Waits until a node other than `from` serves `key`'s slot as master, the cluster ok; returns it. */
  const takenOver = async (key: string, from: number): Promise<number> => {
    let promoted = from;
    await pollUntil(
      async () => {
        try {
          promoted = await masterFor(key);
        } catch {
          return false;
        }
        if (promoted === from) return false;
        const info = await cli(promoted, "CLUSTER", "INFO").catch(() => "");
        return /cluster_state:ok/.test(info);
      },
      { timeoutMs: 30_000, what: `a replica taking over ${key}'s slot from ${from}` },
    );
    return promoted;
  };

  /** Node `port` back as a replica (of the master that took its slots, or of its old master), in
   * sync, and every master's writes reaching its replica. */
  const synced = async (port: number): Promise<void> => {
    await pollUntil(rolesOk, { timeoutMs: 60_000, what: `node ${port} back in the cluster and synced` });
    await pollUntil(() => replicasStreaming(live()), {
      timeoutMs: 30_000,
      what: "every master's writes reaching its replica",
    });
  };

  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(","),
    masterFor,
    mastersFor,
    async killMaster(key) {
      const killed = await masterFor(key);
      await kill(killed);
      return { killed, promoted: await takenOver(key, killed) };
    },
    async freezeMaster(key) {
      const port = await masterFor(key);
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no node on ${port}`);
      frozen.add(port);
      n.signal("SIGSTOP");
      try {
        return { frozen: port, promoted: await takenOver(key, port) };
      } catch (err) {
        n.signal("SIGCONT"); // no failover: leave no frozen node to the tests after this one
        frozen.delete(port);
        throw err;
      }
    },
    async thaw(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no node on ${port}`);
      n.signal("SIGCONT");
      frozen.delete(port);
      await synced(port);
    },
    kill,
    async restart(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no node on ${port}`);
      await n.start();
      await synced(port);
    },
    async masters() {
      const lines = (await cli(live(), "CLUSTER", "NODES")).split("\n");
      return lines
        .map((line) => line.split(" "))
        .filter((f) => (f[2] ?? "").includes("master") && !(f[2] ?? "").includes("fail") && f.length > 8)
        .map((f) => Number((f[1] ?? "").split(":")[1]?.split("@")[0]))
        .sort((a, b) => a - b);
    },
    dirs: () => new Map(nodes.map((n) => [n.port, n.dir])),
    output,
    stop,
  };
}
