// A worker in the test process with connections of its own, each optionally through a TCP proxy, so
// a test can cut this one worker off Redis and/or RabbitMQ (a partition) while everything else
// goes on. Its log lines are kept, so a test can wait for what the worker says it did.

import { RedisJobControlSubscriber } from "../../shared/events/redis-job-control.ts";
import { SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { isTerminal, type JobRecord } from "../../shared/jobs/schemas.ts";
import type { Logger } from "../../shared/observability/log.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import type { JobStore } from "../../shared/store/job-store.ts";
import type { Names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import type { HandlerRegistry } from "../../shared/worker/handlers.ts";
import { Worker } from "../../shared/worker/worker.ts";
import { pollUntil } from "./net.ts";
import { log as silent } from "./stack.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

export interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line (and prints nothing). */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, msg, fields });
  const logger: Logger & { lines: LogLine[] } = {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => logger,
  };
  return logger;
}

export interface FaultWorkerOptions {
  names: Names;
  handlers: HandlerRegistry;
  redisPort?: number;
  amqpPort?: number;
  /** Put Redis (all three connections) and/or RabbitMQ behind a proxy this test can cut. */
  proxyRedis?: boolean;
  proxyAmqp?: boolean;
  /** Without it the worker has no cancel subscriber (lease renewals still notice cancellation). */
  control?: boolean;
  leaseMs?: number;
  stallTimeoutMs?: number;
  queueWatchdogMs?: number;
  shutdownGraceMs?: number;
  prefetch?: number;
}

export interface FaultWorker {
  worker: Worker;
  log: Logger & { lines: LogLine[] };
  redisProxy: TcpProxy | null;
  amqpProxy: TcpProxy | null;
  store: RedisJobStore;
  /** Resolves once the worker has logged `msg` (for `jobId`, if given). */
  logged(msg: string, jobId?: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultWorker(o: FaultWorkerOptions): Promise<FaultWorker> {
  const redisPort = o.redisPort ?? 6379;
  const amqpPort = o.amqpPort ?? 5672;
  const parts: { close(): Promise<unknown> }[] = [];
  try {
    const redisProxy = o.proxyRedis ? await startTcpProxy({ port: redisPort }) : null;
    if (redisProxy) parts.push(redisProxy);
    const amqpProxy = o.proxyAmqp ? await startTcpProxy({ port: amqpPort }) : null;
    if (amqpProxy) parts.push(amqpProxy);
    const redisUrl = `redis://127.0.0.1:${redisProxy?.port ?? redisPort}`;
    const amqpUrl = `amqp://guest:guest@127.0.0.1:${amqpProxy?.port ?? amqpPort}`;
    const log = recordingLogger();
    const redis: RedisClient = await connectRedis(redisUrl, silent, 5_000);
    parts.push({ close: () => redis.close() });
    const controlSub =
      o.control === false ? null : await connectRedis(redisUrl, silent, 5_000, "control", undefined, "subscriber");
    if (controlSub) parts.push({ close: () => controlSub.close() });
    const queue = await RabbitJobQueue.connect({
      url: amqpUrl,
      names: o.names,
      log,
      connectTimeoutMs: 5_000,
      publishTimeoutMs: 2_000,
      heartbeatSeconds: 5,
    });
    parts.push(queue);
    const store = new RedisJobStore(redis, o.names, 3600);
    const worker = new Worker({
      queue,
      store,
      events: new SocketIoJobEvents(redis, o.names, log),
      ...(controlSub ? { control: new RedisJobControlSubscriber(controlSub, o.names, log) } : {}),
      handlers: o.handlers,
      log,
      prefetch: o.prefetch ?? 4,
      resultLimitBytes: 1024 * 1024,
      shutdownGraceMs: o.shutdownGraceMs ?? 2_000,
      leaseMs: o.leaseMs ?? 30_000,
      stallTimeoutMs: o.stallTimeoutMs ?? 300_000,
      queueWatchdogMs: o.queueWatchdogMs ?? 600_000,
    });
    await worker.start();
    let closed = false;
    return {
      worker,
      log,
      redisProxy,
      amqpProxy,
      store,
      logged: async (msg, jobId, timeoutMs = 20_000) => {
        await pollUntil(async () => log.lines.some((l) => l.msg === msg && (!jobId || l.fields.jobId === jobId)), {
          timeoutMs,
          what: `the worker to log "${msg}"`,
        });
      },
      async close() {
        if (closed) return;
        closed = true;
        redisProxy?.resume();
        amqpProxy?.resume();
        await worker.stop();
        for (const p of parts.reverse()) await p.close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const p of parts.reverse()) await p.close().catch(() => undefined);
    throw err;
  }
}

/** A promise with its resolve function outside, for handlers a test releases. */
export function latch<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open: (value: T) => void = () => undefined;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** The job's record once it has ended (read from the store, so no HTTP reply format is involved). */
export function storedEnd(store: Pick<JobStore, "get">, id: string, timeoutMs = 30_000): Promise<JobRecord> {
  return pollUntil(
    async () => {
      const r = await store.get(id);
      return r && isTerminal(r.status) ? r : null;
    },
    { timeoutMs, what: `job ${id} to end` },
  );
}
