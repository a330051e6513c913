// A private RabbitMQ cluster for fault tests: N nodes (default 3) of the machine's rabbitmq-server,
// each on its own loopback AMQP and distribution ports and temp folders, with node names unique to
// this cluster (so parallel test files do not clash). The shared broker on 5672 is never touched.
// What it takes on this machine (../../../shared/TRAPS.md): each node its own config file (the
// system one pins 5672), mnesia dir, feature-flags file and an empty plugin list, in folders owned
// by `rabbitmq`; the server runs in the foreground as `rabbitmq` in a process group of its own (so
// kill -9 of the group is a node crash, and teardown leaves nothing); nodes 2..N join node 1.
//
//   const mq = await startRabbitCluster();   // ~25 s here
//   mq.urls;                                  // amqp://guest:guest@127.0.0.1:<port>, one per node
//   await mq.kill(mq.nodes[0]);               // kill -9
//   await mq.start(mq.nodes[0]);              // same folders: rejoins the cluster
//   await mq.freeze(mq.nodes[0]);             // SIGSTOP: a hang; kill + start brings it back
//   await mq.leaderOf("ns.jobs");             // the node leading a quorum queue
//   await mq.connectionsByNode();             // which node the processes are connected to
//   await mq.stop();                          // kill -9 everything, remove the folders
//
// Ports (AMQP and distribution, two per node): free ones the OS picks, or `{ ports: { from, to } }`
// to keep them in a range of their own.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePorts, freePortsIn, pollUntil } from "./net.ts";

const run = promisify(execFile);
const SERVER = process.env.RABBITMQ_SERVER_BIN ?? "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL = process.env.RABBITMQCTL_BIN ?? "rabbitmqctl";

export interface RabbitNode {
  /** Erlang node name, e.g. `h3f9a2c-1@localhost`. */
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly alive: boolean;
}

export interface RabbitCluster {
  readonly nodes: readonly RabbitNode[];
  /** One AMQP URL per node, in node order (AMQP_URL's list). */
  readonly urls: readonly string[];
  /** How long startRabbitCluster took, to the cluster with every node running. */
  readonly startupMs: number;
  /** kill -9 of the node's whole process group; resolves once its AMQP port refuses. */
  kill(node: RabbitNode): Promise<void>;
  /** SIGSTOP of the node's whole process group (a hang, not a crash: its sockets stay open and
   * nothing answers). Asked nothing afterwards; kill() then start() brings it back (thawed, it
   * would find the others had declared it down: a partition that the tests after it should not
   * meet). */
  freeze(node: RabbitNode): Promise<void>;
  /** Starts a killed node again on its own folders; it rejoins the cluster by itself. */
  start(node: RabbitNode): Promise<void>;
  /** The node that leads a quorum queue now (asked of a live node). */
  leaderOf(queue: string): Promise<RabbitNode>;
  /** Client connections per node name (every node listed, 0 for none), as the cluster sees them. */
  connectionsByNode(): Promise<Map<string, number>>;
  /** The node listening on an AMQP URL's port. */
  nodeOf(url: string): RabbitNode;
  /** rabbitmqctl against a live node (its stdout). */
  ctl(args: readonly string[]): Promise<string>;
  /** Output of a node's server process so far (for failure messages). */
  output(node: RabbitNode): string;
  /** kill -9 every node and remove the folders. Idempotent. */
  stop(): Promise<void>;
}

interface NodeState {
  name: string;
  port: number;
  distPort: number;
  url: string;
  dir: string;
  pgid: number | null;
  /** Stopped with SIGSTOP: alive, but asked nothing (it would not answer). */
  frozen: boolean;
  log: string;
  exited: Promise<void>;
}

export interface RabbitClusterOptions {
  /** Keep the AMQP and distribution ports in this range. Default: free ports the OS picks. */
  ports?: { from: number; to: number };
}

export async function startRabbitCluster(size = 3, opts: RabbitClusterOptions = {}): Promise<RabbitCluster> {
  const began = Date.now();
  const owner = rabbitmqOwner();
  const id = `h${randomBytes(3).toString("hex")}`;
  const ports = opts.ports ? await freePortsIn(size * 2, opts.ports) : await freePorts(size * 2);
  const root = mkdtempSync(join(tmpdir(), "herald-rabbit-"));
  const states: NodeState[] = Array.from({ length: size }, (_, i) => {
    const name = `${id}-${i + 1}@localhost`;
    const port = ports[i * 2] ?? 0;
    return {
      name,
      port,
      distPort: ports[i * 2 + 1] ?? 0,
      url: `amqp://guest:guest@127.0.0.1:${port}`,
      dir: join(root, `node${i + 1}`),
      pgid: null,
      frozen: false,
      log: "",
      exited: Promise.resolve(),
    };
  });
  for (const s of states) prepareFolders(s);
  chownTree(root, owner);
  live.add(states);

  const spawnNode = (s: NodeState) => {
    const child = spawn("setpriv", [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--init-groups", "--", SERVER], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: nodeEnv(s),
      cwd: s.dir,
    });
    s.pgid = child.pid ?? null;
    s.frozen = false;
    child.stdout?.on("data", (b: Buffer) => (s.log = tail(s.log + b.toString())));
    child.stderr?.on("data", (b: Buffer) => (s.log = tail(s.log + b.toString())));
    s.exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", (err) => {
        s.log += `spawn error: ${err.message}\n`;
        resolve();
      });
    });
  };
  // await_startup gives up at once on a node not yet registered with epmd: ask again until the
  // node answers, as long as its process lives.
  const awaitStartup = async (s: NodeState) => {
    let last = "";
    await pollUntil(
      async () => {
        if (!alive(s)) throw new Error(`RabbitMQ node ${s.name} exited:\n${s.log}`);
        try {
          await run(CTL, ["-n", s.name, "-q", "await_startup", "--timeout", "90"], { timeout: 100_000 });
          return true;
        } catch (err) {
          last = String(err);
          return false;
        }
      },
      { timeoutMs: 120_000, everyMs: 500, what: `RabbitMQ node ${s.name} to start` },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${last}\n${s.log}`);
    });
  };
  const ctlOn = async (s: NodeState, args: readonly string[]) =>
    (await run(CTL, ["-n", s.name, "-q", ...args], { timeout: 60_000 })).stdout;

  const alive = (s: NodeState) => s.pgid !== null && groupAlive(s.pgid);
  const byName = (name: string): NodeState => {
    const s = states.find((x) => x.name === name);
    if (!s) throw new Error(`no node ${name} in this cluster`);
    return s;
  };
  const view = (s: NodeState): RabbitNode => ({
    name: s.name,
    port: s.port,
    url: s.url,
    get alive() {
      return alive(s);
    },
  });
  const nodes = states.map(view);
  const anyLive = () => {
    const s = states.find((x) => alive(x) && !x.frozen);
    if (!s) throw new Error("no live node");
    return s;
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      for (const s of states) killGroup(s.pgid);
      await Promise.all(states.map((s) => s.exited));
      // The beam itself may outlive the wrapper for a moment: wait for the whole groups to go.
      await pollUntil(() => states.every((s) => !alive(s)), { timeoutMs: 10_000, what: "the nodes to be gone" }).catch(
        () => undefined,
      );
      live.delete(states);
      rmSync(root, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    for (const s of states) spawnNode(s);
    await Promise.all(states.map(awaitStartup));
    const [seed, ...others] = states;
    if (!seed) throw new Error("a cluster needs a node");
    // One at a time: concurrent joins to the same seed can fail.
    for (const s of others) {
      await ctlOn(s, ["stop_app"]);
      await ctlOn(s, ["join_cluster", seed.name]);
      await ctlOn(s, ["start_app"]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const startupMs = Date.now() - began;

  return {
    nodes,
    urls: states.map((s) => s.url),
    startupMs,
    async kill(node) {
      const s = byName(node.name);
      killGroup(s.pgid);
      await s.exited;
      await pollUntil(() => !alive(s), { timeoutMs: 10_000, what: `${s.name} to be gone` });
    },
    async freeze(node) {
      const s = byName(node.name);
      if (!alive(s) || s.pgid === null) throw new Error(`${s.name} is not running`);
      process.kill(-s.pgid, "SIGSTOP");
      s.frozen = true;
    },
    async start(node) {
      const s = byName(node.name);
      if (alive(s)) throw new Error(`${s.name} is running`);
      spawnNode(s);
      await awaitStartup(s);
    },
    async leaderOf(queue) {
      const out = await ctlOn(anyLive(), ["list_queues", "name", "leader", "--formatter", "json"]);
      const rows = JSON.parse(out) as { name: string; leader: string }[];
      const row = rows.find((r) => r.name === queue);
      if (!row) throw new Error(`no queue ${queue} in the cluster`);
      return view(byName(row.leader));
    },
    async connectionsByNode() {
      const out = await ctlOn(anyLive(), ["list_connections", "port", "--formatter", "json"]);
      const counts = new Map(states.map((s) => [s.name, 0]));
      for (const { port } of JSON.parse(out) as { port: number }[]) {
        const s = states.find((x) => x.port === port);
        if (s) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
      }
      return counts;
    },
    nodeOf(url) {
      const port = Number(new URL(url).port);
      const s = states.find((x) => x.port === port);
      if (!s) throw new Error(`no node of this cluster listens on ${url}`);
      return view(s);
    },
    ctl: (args) => ctlOn(anyLive(), args),
    output: (node) => byName(node.name).log,
    stop,
  };
}

function nodeEnv(s: NodeState): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/var/lib/rabbitmq", // the Erlang cookie rabbitmqctl uses too
    LANG: "C.UTF-8",
    RABBITMQ_NODENAME: s.name,
    RABBITMQ_NODE_PORT: String(s.port),
    RABBITMQ_DIST_PORT: String(s.distPort),
    RABBITMQ_CONFIG_FILE: join(s.dir, "rabbitmq.conf"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(s.dir, "advanced.config"),
    RABBITMQ_CONF_ENV_FILE: join(s.dir, "rabbitmq-env.conf"),
    RABBITMQ_MNESIA_BASE: join(s.dir, "mnesia"),
    RABBITMQ_MNESIA_DIR: join(s.dir, "mnesia", s.name),
    RABBITMQ_LOG_BASE: join(s.dir, "log"),
    RABBITMQ_PID_FILE: join(s.dir, "pid"),
    RABBITMQ_FEATURE_FLAGS_FILE: join(s.dir, "feature_flags"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(s.dir, "enabled_plugins"),
    RABBITMQ_LOGS: "-", // to stdout, kept for failure messages
  };
}

function prepareFolders(s: NodeState): void {
  mkdirSync(join(s.dir, "mnesia"), { recursive: true });
  mkdirSync(join(s.dir, "log"), { recursive: true });
  writeFileSync(join(s.dir, "rabbitmq.conf"), `listeners.tcp.local = 127.0.0.1:${s.port}\n`);
  // Not the system env file: it names the system node. Distribution on loopback only.
  writeFileSync(
    join(s.dir, "rabbitmq-env.conf"),
    'ERL_EPMD_ADDRESS=127.0.0.1\nSERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"\n',
  );
  writeFileSync(join(s.dir, "enabled_plugins"), "[].\n");
  // As deploy/rabbitmq-advanced.config: a dead letter whose target queue was electing a leader is
  // sent again after 5 s, not 3 min (RabbitMQ 3.10's default).
  writeFileSync(join(s.dir, "advanced.config"), ADVANCED_CONFIG);
}

function chownTree(path: string, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), owner);
}

function rabbitmqOwner(): { uid: number; gid: number } {
  if (process.getuid?.() !== 0) {
    throw new Error("a private RabbitMQ cluster runs rabbitmq-server as user rabbitmq: run the tests as root");
  }
  const st = statSync("/var/lib/rabbitmq"); // the rabbitmq user's home, owned by it
  return { uid: st.uid, gid: st.gid };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number | null): void {
  if (pgid === null) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // gone already
  }
}

const ADVANCED_CONFIG = readFileSync(new URL("../../deploy/rabbitmq-advanced.config", import.meta.url), "utf8");

const tail = (text: string) => (text.length > 64_000 ? text.slice(-64_000) : text);

// Safety net: nodes still running when the test process exits are killed (a failed before hook,
// a forgotten stop), so no private broker outlives its test run.
const live = new Set<NodeState[]>();
process.once("exit", () => {
  for (const states of live) for (const s of states) killGroup(s.pgid);
});
