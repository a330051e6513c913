// CPU and Redis commands per no-op job of the worker, A/B between source trees, interleaved (issue 10;
// bench/cpu-ab.ts does the API's side). On a busy machine the sustained row's jobs/s is noise; the
// worker's CPU time per job much less so.
//   node --import tsx bench/worker-ab.ts [--n 10000] [--rounds 3] [--port 27720] [--prof DIR] [--node-flags "FLAGS"] TREE_A [TREE_B ...]
// Each round starts, for each tree in turn (order alternating by round), that tree's API and bench
// worker (bench/procs/bench-worker.ts, cwd = the tree, the bench's env) under a fresh namespace, runs
// a warm-up of n/4 no-op jobs, then n more (POST /jobs, 50 connections), and waits until every job
// ended (no queued and no leased job left in the store). It reads the worker's utime+stime from
// /proc/<pid>/stat its write syscalls (/proc/<pid>/io syscw) and Redis's INFO commandstats (read only: never reset) around the measured n.
// Use a Redis of your own (REDIS_URL) for the command counts: on a shared one, others' commands count.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import autocannon from "autocannon";
import { names } from "../shared/store/names.ts";
import { connectRedis } from "../shared/store/redis-connect.ts";
import type { RedisClient } from "../shared/store/redis-job-store.ts";
import { defineJobTypesAt, log, removeNamespace } from "../test/helpers/stack.ts";
import {
  cpuMs,
  loadAverage,
  median,
  postNoopJob,
  stopChild,
  takeNodeFlags,
  takeOption,
  untilReady,
} from "./ab-tools.ts";
import { AMQP_URL, REDIS_URL } from "./brokers.ts";
import { benchEnv } from "./herald.ts";
import { benchHandlers } from "./procs/bench-jobs.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => takeOption(args, name, dflt);
const N = Number(opt("--n", "10000"));
const ROUNDS = Number(opt("--rounds", "3"));
const PROF = opt("--prof", "");
const port = Number(opt("--port", "27720"));
const NODE_FLAGS = takeNodeFlags(args);
const trees = args;

/** The write syscalls a process made so far (each Redis round trip and each AMQP frame batch is one). */
const writeCalls = (pid: number): number =>
  Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);

/** Calls per command name (INFO commandstats), read as they are. */
async function commandCalls(redis: RedisClient): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1] ?? "", Number(m[2]));
  return calls;
}

function start(tree: string, entry: string[], env: Record<string, string>): ChildProcess {
  const prof = PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [];
  return spawn(process.execPath, [...NODE_FLAGS, ...prof, "--import", "tsx", ...entry], {
    cwd: tree,
    env: { ...process.env, ...benchEnv, REDIS_URL, AMQP_URL, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

async function one(
  tree: string,
  redis: RedisClient,
): Promise<{ cpuUs: number; writes: number; commands: Map<string, number> }> {
  const namespace = `bench-${randomBytes(6).toString("hex")}`;
  const n = names(namespace);
  await defineJobTypesAt(REDIS_URL, n, benchHandlers);
  const env = { HERALD_NAMESPACE: namespace };
  const api = start(tree, ["services/api/main.ts"], { ...env, HOST: "127.0.0.1", PORT: String(port) });
  const worker = start(tree, ["bench/procs/bench-worker.ts"], { ...env, INSTANCE_ID: "worker-ab" });
  const url = `http://127.0.0.1:${port}`;
  const amqpConn = await amqp.connect(AMQP_URL);
  try {
    await untilReady(url);
    for (;;) {
      const ch = await amqpConn.createChannel();
      ch.on("error", () => {});
      const consumers = await ch.checkQueue(n.jobsQueue).then(
        (q) => q.consumerCount,
        () => 0,
      );
      await ch.close().catch(() => {});
      if (consumers > 0) break;
      await sleep(100);
    }
    // Every job ended: none queued (the queue watchdog's index) and none leased (running).
    const drained = async () => {
      for (;;) {
        const sizes = await Promise.all(
          n.shards.flatMap((k) => [redis.zCard(n.queuedKey(k)), redis.zCard(n.leasesKey(k))]),
        );
        if (sizes.every((s) => s === 0)) return;
        await sleep(50);
      }
    };
    const post = postNoopJob(url);
    const submit = async (amount: number) => {
      const r = await autocannon({ connections: 50, ...post, amount });
      if (r["2xx"] !== amount) throw new Error(`${tree}: only ${r["2xx"]} 2xx of ${amount}`);
    };
    await submit(N / 4);
    await drained();
    const pid = worker.pid ?? 0;
    const c0 = await commandCalls(redis);
    const t0 = cpuMs(pid);
    const w0 = writeCalls(pid);
    await submit(N);
    await drained();
    const cpu = cpuMs(pid) - t0;
    const writes = (writeCalls(pid) - w0) / N;
    const c1 = await commandCalls(redis);
    const commands = new Map([...c1].map(([k, v]) => [k, (v - (c0.get(k) ?? 0)) / N]));
    return { cpuUs: (cpu * 1000) / N, writes, commands };
  } finally {
    await amqpConn.close().catch(() => {});
    await Promise.all([stopChild(worker), stopChild(api)]);
    await removeNamespace(n, redis);
  }
}

const redis = await connectRedis(REDIS_URL, log, 5_000);
const results = new Map<string, number[]>(trees.map((t) => [t, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const tree of round % 2 ? [...trees].reverse() : trees) {
    const r = await one(tree, redis);
    results.get(tree)?.push(r.cpuUs);
    const cmds = [...r.commands]
      .filter(([, v]) => v >= 0.01)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
    console.log(
      `round ${round + 1} ${tree}: worker ${r.cpuUs.toFixed(0)} µs/job, ${r.writes.toFixed(2)} write syscalls/job; Redis commands/job (API + worker): ${cmds}`,
    );
  }
}
await redis.close();
const load1 = loadAverage();
for (const [tree, xs] of results) {
  console.log(
    `${tree}: worker min ${Math.min(...xs).toFixed(0)} / median ${median(xs).toFixed(0)} µs per job (load ${load1})`,
  );
}
