// An in-process Herald against the real local RabbitMQ and Redis: one API (real HTTP on a free
// port) and N workers, each with its own connections, under a fresh random namespace that is
// removed afterwards (queues, exchanges, keys).
import { randomBytes } from "node:crypto";
import amqp from "amqplib";
import { type ApiServer, startApiServer } from "../../services/api/server.ts";
import type { HandlerRegistry } from "../../services/worker/handlers.ts";
import { builtinHandlers } from "../../services/worker/jobs/index.ts";
import { Worker } from "../../services/worker/worker.ts";
import { loadConfig } from "../../shared/config.ts";
import { type JobCatalog, catalog as toCatalog } from "../../shared/job-types.ts";
import { createLogger } from "../../shared/log.ts";
import { type Names, names } from "../../shared/names.ts";
import { allExchanges, allQueues } from "../../shared/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/rabbit-job-queue.ts";
import { connectRedis } from "../../shared/redis-connect.ts";
import { RedisJobControlSubscriber } from "../../shared/redis-job-control.ts";
import { type RedisClient, RedisJobStore } from "../../shared/redis-job-store.ts";
import { SocketIoJobEvents } from "../../shared/socketio-job-events.ts";

export const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const log = createLogger((process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "silent");

export const randomNamespace = (prefix = "test"): string => `${prefix}-${randomBytes(6).toString("hex")}`;

export interface StackOptions {
  workers?: number;
  handlers?: HandlerRegistry;
  /** Per-worker handlers (worker index 0..workers-1), e.g. to record which worker ran a job.
   * Takes precedence over `handlers`; the API's catalogue comes from `handlersFor(0)`. */
  handlersFor?: (workerIndex: number) => HandlerRegistry;
  prefetch?: number;
  bodyLimitBytes?: number;
  resultLimitBytes?: number;
  namespace?: string;
  instanceId?: string;
  corsOrigins?: string[];
  longPollMaxSeconds?: number;
  sseHeartbeatMs?: number;
  socketMaxJobs?: number;
  leaseMs?: number;
  stallTimeoutMs?: number;
  /** More API settings, as environment variables (see shared/config.ts). */
  env?: Record<string, string>;
}

export interface Stack {
  baseUrl: string;
  names: Names;
  redis: RedisClient;
  apiQueue: RabbitJobQueue;
  api: ApiServer;
  workers: Worker[];
  close(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const ns = opts.namespace ?? randomNamespace();
  const n = names(ns);
  const handlersFor = opts.handlersFor ?? (() => opts.handlers ?? builtinHandlers);
  const catalog: JobCatalog = toCatalog([...handlersFor(0).values()].map((h) => h.type));
  const redis = await connectRedis(REDIS_URL, log, 5_000);
  const queueOpts = { url: AMQP_URL, names: n, log, connectTimeoutMs: 5_000, publishTimeoutMs: 2_000 };
  const apiQueue = await RabbitJobQueue.connect(queueOpts);

  const workerParts: { worker: Worker; queue: RabbitJobQueue; redis: RedisClient; control: RedisClient }[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) {
    const wRedis = await connectRedis(REDIS_URL, log, 5_000);
    const wControl = await connectRedis(REDIS_URL, log, 5_000);
    const wQueue = await RabbitJobQueue.connect(queueOpts);
    const worker = new Worker({
      queue: wQueue,
      store: new RedisJobStore(wRedis, n, 3600),
      events: new SocketIoJobEvents(wRedis, n),
      control: new RedisJobControlSubscriber(wControl, n, log),
      leaseMs: opts.leaseMs ?? 30_000,
      stallTimeoutMs: opts.stallTimeoutMs ?? 300_000,
      handlers: handlersFor(i),
      log,
      prefetch: opts.prefetch ?? 4,
      resultLimitBytes: opts.resultLimitBytes ?? 1024 * 1024,
      shutdownGraceMs: 2_000,
    });
    await worker.start();
    workerParts.push({ worker, queue: wQueue, redis: wRedis, control: wControl });
  }

  const connect = () => connectRedis(REDIS_URL, log, 5_000);
  const [changesSub, adapterPub, adapterSub] = await Promise.all([connect(), connect(), connect()]);
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    PORT: "0",
    HERALD_NAMESPACE: ns,
    INSTANCE_ID: opts.instanceId ?? `test-${ns}`,
    CORS_ORIGINS: (opts.corsOrigins ?? []).join(","),
    BODY_LIMIT_BYTES: String(opts.bodyLimitBytes ?? 1024 * 1024),
    JOB_TTL_SECONDS: "3600",
    LONG_POLL_MAX_SECONDS: String(opts.longPollMaxSeconds ?? 60),
    SSE_HEARTBEAT_MS: String(opts.sseHeartbeatMs ?? 15_000),
    SOCKET_MAX_JOBS: String(opts.socketMaxJobs ?? 100),
    SHUTDOWN_GRACE_MS: "2000",
    ...opts.env,
  };
  const api = await startApiServer(
    loadConfig(env),
    { redis, changesSub, adapterPub, adapterSub, queue: apiQueue },
    catalog,
    log,
  );
  const port = api.port;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    names: n,
    redis,
    apiQueue,
    api,
    workers: workerParts.map((w) => w.worker),
    async close() {
      api.server.closeAllConnections();
      await api.close();
      await Promise.all([changesSub, adapterPub, adapterSub].map((c) => c.close()));
      for (const w of workerParts) {
        await w.worker.stop();
        await w.queue.close();
        await w.redis.close();
        await w.control.close();
      }
      await apiQueue.close();
      await removeNamespace(n, redis);
      await redis.close();
    },
  };
}

/** Deletes every queue, exchange and key of a test namespace. */
export async function removeNamespace(n: Names, redis: RedisClient): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  const ch = await conn.createChannel();
  for (const q of allQueues(n)) await ch.deleteQueue(q);
  for (const e of allExchanges(n)) await ch.deleteExchange(e);
  await conn.close();
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: `${n.namespace}:*`, COUNT: 500 })) keys.push(...batch);
  if (keys.length > 0) await redis.del(keys);
}
