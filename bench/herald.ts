// Herald as users run it: each API instance `node --import tsx services/api/main.ts` and each worker
// its own process (bench/procs/bench-worker.ts: startWorker with the bench's no-op and ticker
// handlers), on the local RabbitMQ and Redis, under a fresh `bench-…` namespace removed afterwards.
import { randomBytes } from "node:crypto";
import amqp from "amqplib";
import { names } from "../shared/store/names.ts";
import { connectRedis } from "../shared/store/redis-connect.ts";
import { freePorts } from "../test/helpers/net.ts";
import { defineJobTypesAt, log, removeNamespace } from "../test/helpers/stack.ts";
import { AMQP_URL, REDIS_URL } from "./brokers.ts";
import { benchHandlers } from "./procs/bench-jobs.ts";
import { type Child, spawnNode } from "./procs.ts";
import type { RowContext } from "./rows/context.ts";

/** Jobs a worker runs at once (WORKER_PREFETCH); the bare consumer and BullMQ's worker get the same. */
export const WORKER_CONCURRENCY = 32;

/** Every per-client limit off (every bench client is 127.0.0.1), logs at warn (the bare servers log
 * nothing either), a socket may receive as many events as the bench sends. */
export const benchEnv: Readonly<Record<string, string>> = Object.freeze({
  RATE_LIMIT_SUBMIT_PER_MINUTE: "0",
  RATE_LIMIT_READ_PER_MINUTE: "0",
  MAX_JOBS_IN_FLIGHT: "0",
  MAX_QUEUE_DEPTH: "0",
  SOCKET_EVENTS_PER_SECOND: "100000",
  SOCKET_MAX_JOBS: "10000",
  LONG_POLL_MAX_SECONDS: "600",
  SSE_HEARTBEAT_MS: "600000",
  WORKER_PREFETCH: String(WORKER_CONCURRENCY),
  LOG_LEVEL: "warn",
  SHUTDOWN_GRACE_MS: "2000",
  AMQP_URL,
  REDIS_URL,
});

export const PROFILES = "bench/results/profiles";

export interface HeraldOptions {
  readonly apis: number;
  readonly workers: number;
  /** Open-files limit of the API processes (held-connection rows). */
  readonly nofile?: number;
  readonly env?: Record<string, string>;
}

export interface ApiInstance {
  readonly child: Child;
  readonly url: string;
}

export interface Herald {
  readonly namespace: string;
  readonly apis: readonly ApiInstance[];
  readonly workers: readonly Child[];
  /** Starts one more worker process (e.g. after an accept phase with none). */
  addWorker(): Promise<Child>;
}

export async function startHerald(ctx: RowContext, o: HeraldOptions): Promise<Herald> {
  const { cleanup } = ctx;
  // --cpu-prof: each Herald process writes a V8 CPU profile when it exits (open it in Chrome DevTools).
  const nodeArgs = ctx.opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${PROFILES}`] : [];
  const namespace = `bench-${randomBytes(6).toString("hex")}`;
  const n = names(namespace);
  cleanup.add(`remove namespace ${namespace}`, async () => {
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    try {
      await removeNamespace(n, redis);
    } finally {
      await redis.close();
    }
  });
  // The bench's types are known to the API from the start (as a deployment whose workers announced
  // them before): rows that accept with no worker running need that.
  await defineJobTypesAt(REDIS_URL, n, benchHandlers);
  const env = { ...benchEnv, ...o.env, HERALD_NAMESPACE: namespace, HOST: "127.0.0.1" };
  const ports = await freePorts(o.apis);
  const apis = ports.map((port, i) => {
    const child = spawnNode(`api${o.apis > 1 ? `-${"AB"[i] ?? i}` : ""}`, "services/api/main.ts", [], {
      env: { ...env, PORT: String(port), INSTANCE_ID: `bench-api-${i}` },
      probe: true,
      nodeArgs,
      ...(o.nofile ? { nofile: o.nofile } : {}),
    });
    cleanup.add(`stop ${child.name}`, () => child.stop());
    return { child, url: `http://127.0.0.1:${port}` };
  });
  const workers: Child[] = [];
  const addWorker = async () => {
    const child = spawnNode(
      `worker${workers.length > 0 ? `-${workers.length}` : ""}`,
      "bench/procs/bench-worker.ts",
      [],
      {
        env: { ...env, INSTANCE_ID: `bench-worker-${workers.length}` },
        probe: true,
        nodeArgs,
      },
    );
    cleanup.add(`stop ${child.name}`, () => child.stop());
    workers.push(child);
    await consumers(n.jobsQueue, workers.length, child);
    return child;
  };
  // Workers start beside the APIs (each declares the topology it needs).
  await Promise.all([...apis.map((a) => apiReady(a)), ...Array.from({ length: o.workers }, () => addWorker())]);
  return { namespace, apis, workers, addWorker };
}

async function apiReady(api: ApiInstance, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!api.child.alive) throw new Error(`${api.child.name} exited:\n${api.child.tail()}`);
    const ok = await fetch(`${api.url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${api.child.name} not ready within ${timeoutMs} ms:\n${api.child.tail()}`);
}

/** Waits until the jobs queue has `count` consumers (the worker's consume is up). */
async function consumers(queue: string, count: number, child: Child, timeoutMs = 90_000): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!child.alive) throw new Error(`${child.name} exited:\n${child.tail()}`);
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      const found = await ch.checkQueue(queue).then(
        (q) => q.consumerCount,
        () => 0,
      );
      await ch.close().catch(() => {});
      if (found >= count) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${child.name}: no consumer on ${queue} within ${timeoutMs} ms:\n${child.tail()}`);
  } finally {
    await conn.close();
  }
}
