// The soak's faults, one at a time: a worker killed (SIGKILL) or stopped (SIGTERM) while it
// provably runs a job, an API killed, the RabbitMQ link cut, the private Redis killed while jobs
// run. On clusters (`npm run soak -- --clusters`): the Redis master holding running jobs killed (its
// replica takes over) and a RabbitMQ node killed (the one the processes are on, or the jobs queue's
// leader) instead of the cut and the Redis kill. Each returns a record of what it hit; every process
// or node it ends is restarted.
//
// "Provably runs a job": the harness freezes a candidate worker (SIGSTOP), lets the Redis MONITOR
// tap catch up, and keeps it only if a job's current record (read back with GET) is a `running`
// record that this very process wrote. The worker cannot finish that job while frozen, so the
// signal that follows certainly meets it running; otherwise the worker is resumed (SIGCONT).
import { setTimeout as delay } from "node:timers/promises";
import { isUnavailable } from "../../shared/store/redis-client.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { jobRecords } from "../../shared/store/sharded-reads.ts";
import type { Cluster, ServiceProcess, WorkerProcess } from "./cluster.ts";
import type { ExitWatch } from "./exit-watch.ts";
import type { JobWrite, JobWrites } from "./job-writes.ts";
import type { PrivateRedis } from "./private-redis.ts";
import { processState } from "./proc-sockets.ts";
import type { RabbitCluster } from "./rabbit-cluster.ts";
import type { PrivateRedisCluster } from "./redis-cluster.ts";
import { jobIdOfKey, jobKeys } from "./redis-keys.ts";
import type { RedisMonitor } from "./redis-monitor.ts";
import type { TcpProxy } from "./tcp-proxy.ts";

export interface StruckJob {
  id: string;
  attempt: number;
  /** The attempt was the job's last (attempts = maxAttempts). */
  last: boolean;
  /** The harness's estimate of how long the attempt still had to run. */
  remainingMs: number;
}

export type Fault =
  | { kind: "worker-kill" | "worker-term"; target: string; at: number; jobs: StruckJob[] }
  | { kind: "api-kill"; target: string; at: number }
  | { kind: "cut"; at: number; connections: number }
  | { kind: "redis-kill"; at: number; jobs: StruckJob[]; downMs: number; node?: number }
  | { kind: "rabbit-kill"; at: number; target: string; leader: boolean; connections: number }
  | { kind: "skipped"; what: string; at: number; why: string };

export type FaultKind = "worker-kill" | "worker-term" | "api-kill" | "cut" | "redis-kill" | "rabbit-kill";

/** The brokers the soak's processes use, and what the broker faults act on. */
export type SoakBrokers =
  /** A private Redis (killed whole) and the shared RabbitMQ behind a TCP proxy (cut). */
  | { kind: "standalone"; redis: PrivateRedis; proxy: TcpProxy }
  /** A private Redis Cluster (a master killed) and a private RabbitMQ cluster (a node killed).
   * `resynced` collects the dirs of Redis nodes restarted after a kill (soak-witnesses.ts). */
  | { kind: "clusters"; redis: PrivateRedisCluster; rabbit: RabbitCluster; jobsQueue: string; resynced: Set<string> };

/** Which process wrote a command a MONITOR tap reported, by the client address it names. */
export interface Owners {
  forgetPid(pid: number): void;
  /** Every connection was dropped (the server restarted); or, on clusters, those to one node. */
  clear(port?: number): void;
}

/** Jobs a fault waits for: one that will run a long last attempt (SIGTERM), or one that commits
 * progress every few milliseconds, so Redis dies while events are being emitted. */
export type Wanted = "last-attempt" | "chatty";

export interface Chaos {
  cluster: Cluster;
  brokers: SoakBrokers;
  /** A harness client of the private Redis or Redis Cluster (reconnects by itself). */
  control: RedisClient;
  monitor: RedisMonitor;
  /** Resolves once the tap has reported every command the Redis nodes executed before the call. */
  syncTap(): Promise<void>;
  /** The tap follows the masters again (after a failover, on clusters). */
  rolesChanged(): Promise<void>;
  writes: JobWrites;
  owners: Owners;
  exits: ExitWatch;
  random: () => number;
  say: (line: string) => void;
  /** The demo payload of a job, if the harness submitted it. */
  payloadOf: (id: string) => { steps?: number; stepMs?: number; failAttempts?: number } | undefined;
  maxAttempts: number;
  /** Workers' SHUTDOWN_GRACE_MS: a SIGTERM hands back a job that runs longer than this. */
  workerGraceMs: number;
  cutMs: number;
  redisDownMs: number;
  /** How long a strike may wait for a worker that runs a job. */
  strikeTimeoutMs: number;
  /** How long a SIGTERM waits for a worker running a job on its last attempt before it takes any. */
  lastAttemptPatienceMs: number;
  /** Asks the submitters for jobs of a kind a waiting fault prefers (null: the usual mix). */
  steer: (want: Wanted | null) => void;
}

/** Runs one fault; one that cannot run is reported as skipped. */
export async function runFault(c: Chaos, kind: FaultKind): Promise<Fault> {
  try {
    return await faultOf(c, kind);
  } catch (err) {
    c.say(`${kind} failed: ${String(err)}`);
    return { kind: "skipped", what: kind, at: Date.now(), why: String(err) };
  }
}

function faultOf(c: Chaos, kind: FaultKind): Promise<Fault> {
  switch (kind) {
    case "worker-kill":
    case "worker-term":
      return strikeWorker(c, kind);
    case "api-kill":
      return killApi(c);
    case "cut":
      return cutRabbit(c);
    case "redis-kill":
      return killRedis(c);
    case "rabbit-kill":
      return killRabbitNode(c);
  }
}

async function strikeWorker(c: Chaos, kind: "worker-kill" | "worker-term"): Promise<Fault> {
  const started = Date.now();
  const deadline = started + c.strikeTimeoutMs;
  // A SIGTERM prefers (for a while) a job on its last attempt that outlives the grace period: a
  // hand-back there is what must not cost the job its outcome. The submitters supply such jobs.
  const patient = kind === "worker-term";
  c.steer(patient ? "last-attempt" : null);
  try {
    return await strikeUntil(c, kind, started, deadline);
  } finally {
    c.steer(null);
  }
}

async function strikeUntil(
  c: Chaos,
  kind: "worker-kill" | "worker-term",
  started: number,
  deadline: number,
): Promise<Fault> {
  while (Date.now() < deadline) {
    const picky = kind === "worker-term" && Date.now() < started + c.lastAttemptPatienceMs;
    if (!picky) c.steer(null);
    const victim = pickWorker(c, picky);
    if (!victim) {
      await delay(50);
      continue;
    }
    const jobs = await freezeIfRunning(c, victim, picky);
    if (!jobs) continue;
    const pid = victim.process.pid;
    const signal = kind === "worker-kill" ? "SIGKILL" : "SIGTERM";
    c.exits.told(victim, signal);
    victim.process.kill(signal);
    if (signal === "SIGTERM") victim.process.kill("SIGCONT");
    const exited = await exitWithin(victim, signal === "SIGKILL" ? 10_000 : c.workerGraceMs + 30_000);
    if (!exited) {
      c.say(`${victim.id} did not exit after ${signal}: SIGKILL`);
      victim.process.kill("SIGKILL");
      await victim.exited;
    }
    if (pid !== undefined) c.owners.forgetPid(pid);
    const what = jobs.map((j) => `${j.id.slice(0, 8)}#${j.attempt}${j.last ? " (last)" : ""}`).join(", ");
    c.say(`${signal} ${victim.id} while it ran ${what}`);
    c.steer(null);
    await restart(c, victim);
    return { kind, target: victim.id, at: Date.now(), jobs };
  }
  return { kind: "skipped", what: kind, at: Date.now(), why: `no worker ran a job for ${c.strikeTimeoutMs} ms` };
}

/** A running record whose writer is unknown (written while the tap was away) and that changed
 * lately: some live worker may be running it. (A running job writes progress every step, at most
 * every 300 ms in the soak; one that has not changed for this long has no live worker.) */
const UNATTRIBUTED_MS = 5_000;
const uncertain = (running: [string, JobWrite][]) =>
  running.some(([, w]) => w.pid === undefined && Date.now() - w.seenAt < UNATTRIBUTED_MS);

/** A worker whose process wrote a `running` record that is still current, or null. Null too while
 * a running job's writer is uncertain: that job could be the victim's. */
function pickWorker(c: Chaos, picky: boolean): WorkerProcess | null {
  const running = c.writes.running();
  if (uncertain(running)) return null;
  const eligible = c.cluster.workers.filter((w) =>
    running.some(([id, write]) => w.alive && write.pid === w.process.pid && (!picky || wanted(c, id, write))),
  );
  return eligible[Math.floor(c.random() * eligible.length)] ?? null;
}

/** A job on its last attempt that will succeed on it and has well over the grace period to run. */
function wanted(c: Chaos, id: string, w: JobWrite): boolean {
  const payload = c.payloadOf(id);
  return (
    w.attempts >= c.maxAttempts &&
    (payload?.failAttempts ?? 0) < c.maxAttempts &&
    remainingMs(c, id, w) > c.workerGraceMs + 500
  );
}

function remainingMs(c: Chaos, id: string, w: JobWrite): number {
  const p = c.payloadOf(id);
  const total = (p?.steps ?? 5) * (p?.stepMs ?? 200);
  return Math.max(0, total * (1 - w.percent / 100) - (Date.now() - w.seenAt));
}

/** SIGSTOPs the worker; returns the jobs it provably runs (and leaves it frozen), or resumes it
 * and returns null. */
async function freezeIfRunning(c: Chaos, w: WorkerProcess, picky: boolean): Promise<StruckJob[] | null> {
  const pid = w.process.pid;
  if (pid === undefined || !w.alive) return null;
  w.process.kill("SIGSTOP");
  let keep = false;
  try {
    const stopDeadline = Date.now() + 10_000;
    while (processState(pid) !== "T") {
      if (!w.alive || Date.now() > stopDeadline) return null;
      await delay(5);
    }
    // Everything the frozen process sent has been executed and reported once this returns.
    await c.syncTap();
    const all = c.writes.running();
    if (uncertain(all)) return null;
    const mine = all.filter(([, x]) => x.pid === pid);
    if (mine.length === 0) return null;
    const stored = await whileUnavailable(() =>
      jobRecords(
        c.control,
        c.cluster.names,
        mine.map(([id]) => id),
      ),
    );
    const held = mine.filter(([, x], i) => stored[i] === x.json);
    if (held.length === 0 || (picky && !held.some(([id, x]) => wanted(c, id, x)))) return null;
    keep = true;
    return held.map(([id, x]) => ({
      id,
      attempt: x.attempts,
      last: x.attempts >= c.maxAttempts,
      remainingMs: Math.round(remainingMs(c, id, x)),
    }));
  } finally {
    if (!keep && w.alive) w.process.kill("SIGCONT");
  }
}

async function killApi(c: Chaos): Promise<Fault> {
  const alive = c.cluster.apis.filter((a) => a.alive);
  const victim = alive[Math.floor(c.random() * alive.length)];
  if (!victim) return { kind: "skipped", what: "api-kill", at: Date.now(), why: "no API alive" };
  const pid = victim.process.pid;
  c.exits.told(victim, "SIGKILL");
  victim.process.kill("SIGKILL");
  await victim.exited;
  if (pid !== undefined) c.owners.forgetPid(pid);
  c.say(`kill -9 ${victim.id}`);
  await restart(c, victim);
  return { kind: "api-kill", target: victim.id, at: Date.now() };
}

async function cutRabbit(c: Chaos): Promise<Fault> {
  const b = c.brokers;
  if (b.kind !== "standalone") throw new Error("a link cut needs the TCP proxy of the standalone soak");
  const connections = b.proxy.live;
  await b.proxy.cut();
  c.say(`RabbitMQ link cut (${connections} connections)`);
  await delay(c.cutMs); // the length of the outage, not a synchronisation
  b.proxy.resume();
  c.say("RabbitMQ link back");
  return { kind: "cut", at: Date.now(), connections };
}

async function killRedis(c: Chaos): Promise<Fault> {
  const started = Date.now();
  // Prefer (for a while) a moment when several chatty jobs run: their workers are then emitting
  // events, and a PUBLISH in flight when Redis dies is what item 8 of issue 7 is about.
  const chatty = () => c.writes.running().filter(([id]) => (c.payloadOf(id)?.stepMs ?? 1_000) <= 10).length >= 3;
  c.steer("chatty");
  try {
    for (;;) {
      const patient = Date.now() < started + c.lastAttemptPatienceMs;
      if (patient ? chatty() : c.writes.running().length > 0) break;
      if (Date.now() > started + c.strikeTimeoutMs)
        return { kind: "skipped", what: "redis-kill", at: Date.now(), why: "no job ran" };
      await delay(20);
    }
  } finally {
    c.steer(null);
  }
  const jobs = c.writes.running().map(([id, w]) => ({
    id,
    attempt: w.attempts,
    last: w.attempts >= c.maxAttempts,
    remainingMs: Math.round(remainingMs(c, id, w)),
  }));
  const b = c.brokers;
  let node: number | undefined;
  if (b.kind === "standalone") {
    c.exits.redisDown(true);
    c.monitor.expectDrop();
    await b.redis.kill();
    c.say(`kill -9 redis while ${jobs.length} job(s) ran`);
    await delay(c.redisDownMs); // the length of the outage, not a synchronisation
    await b.redis.start(); // replays the AOF
    c.owners.clear(); // every client connects anew
    await c.monitor.reconnect();
    c.exits.redisDown(false);
    await until(() => c.control.isReady, 30_000, "the harness's Redis client to reconnect");
  } else {
    // The master of a running job's shard: its replica takes over, API and workers carry on.
    const victim = jobs[Math.floor(c.random() * jobs.length)] as StruckJob;
    c.monitor.expectDrop();
    const { killed, promoted } = await b.redis.killMaster(c.cluster.names.jobKey(victim.id));
    node = killed;
    c.say(`kill -9 Redis master ${killed} while ${jobs.length} job(s) ran; ${promoted} took over`);
    await c.rolesChanged(); // the tap follows the promoted replica
    await delay(c.redisDownMs); // how long the old master stays down, not a synchronisation
    await b.redis.restart(killed); // back as a replica of the promoted node
    b.resynced.add(b.redis.dirs().get(killed) as string);
    c.owners.clear(killed);
    await c.monitor.reconnect();
    await c.rolesChanged();
  }
  await c.syncTap();
  // Writes made before the tap was back are unknown: read every record, note those as unattributed.
  const ids = (await whileUnavailable(() => jobKeys(c.control, c.cluster.names)))
    .map((key) => jobIdOfKey(c.cluster.names.namespace, key))
    .filter((id) => id !== null);
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const values = await whileUnavailable(() => jobRecords(c.control, c.cluster.names, chunk));
    chunk.forEach((id, j) => {
      const json = values[j];
      if (json) c.writes.learn(id, json);
    });
  }
  c.say("redis back");
  return { kind: "redis-kill", at: Date.now(), jobs, downMs: c.redisDownMs, ...(node !== undefined ? { node } : {}) };
}

/** kill -9 of a RabbitMQ node of the cluster, taking turns: the node most processes are connected
 * to, then the node leading the jobs queue; started again once every process is back on the others. */
const rabbitKills = new WeakMap<Chaos, number>();
async function killRabbitNode(c: Chaos): Promise<Fault> {
  const b = c.brokers;
  if (b.kind !== "clusters") throw new Error("a RabbitMQ node kill needs the RabbitMQ cluster");
  const byNode = await b.rabbit.connectionsByNode();
  const total = [...byNode.values()].reduce((a, n) => a + n, 0);
  const busiest = [...byNode].sort((x, y) => y[1] - x[1])[0]?.[0];
  const leader = (await b.rabbit.leaderOf(b.jobsQueue)).name;
  const turn = rabbitKills.get(c) ?? 0;
  rabbitKills.set(c, turn + 1);
  const target = turn % 2 === 0 ? busiest : leader;
  const node = b.rabbit.nodes.find((n) => n.name === target);
  if (!node) return { kind: "skipped", what: "rabbit-kill", at: Date.now(), why: "no node to kill" };
  const connections = byNode.get(node.name) ?? 0;
  await b.rabbit.kill(node);
  c.say(
    `kill -9 RabbitMQ node ${node.name} (${connections} of ${total} connections${node.name === leader ? ", jobs queue leader" : ""})`,
  );
  // Everybody reconnects to the other nodes before the killed one comes back.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await b.rabbit.connectionsByNode().catch(() => null);
    if (now && (now.get(node.name) ?? 0) === 0 && [...now.values()].reduce((a, n) => a + n, 0) >= total) break;
    if (Date.now() > deadline) {
      c.say(`not every process reconnected within 60 s: ${JSON.stringify(now ? [...now] : null)}`);
      break;
    }
    await delay(200);
  }
  await b.rabbit.start(node);
  c.say(`RabbitMQ node ${node.name} back`);
  return { kind: "rabbit-kill", at: Date.now(), target: node.name, leader: node.name === leader, connections };
}

/** Starts a process again; a start that fails (e.g. during an outage) is tried again. */
export async function restart(c: Pick<Chaos, "say">, p: ServiceProcess): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await p.restart();
      c.say(`${p.id} restarted`);
      return;
    } catch (err) {
      c.say(`${p.id} restart ${attempt} failed: ${String(err).split("\n")[0]}`);
      if (attempt >= 5) throw err;
      await delay(1_000);
    }
  }
}

async function exitWithin(p: ServiceProcess, ms: number): Promise<boolean> {
  const giveUp = new AbortController();
  const timer = delay(ms, false, { signal: giveUp.signal }).catch(() => false);
  const done = await Promise.race([p.exited.then(() => true), timer]);
  giveUp.abort();
  return done;
}

/** `read`, tried again while the harness's Redis answers "unavailable": after a Redis Cluster
 * failover its client serves a slot from the promoted replica only once it has refreshed its slot
 * map (node-redis does so a few seconds after a node's connection is lost), as Herald's own
 * processes answer 503 until then. */
async function whileUnavailable<T>(read: () => Promise<T>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > deadline) throw err;
      await delay(250);
    }
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await delay(50);
  }
}
