// An in-process Herald against the real local RabbitMQ and Redis: one API (real HTTP on a free
// port) and N workers, each with its own connections, under a fresh random namespace that is
// removed afterwards (queues, exchanges, keys).
import { randomBytes } from "node:crypto";
import amqp, { type ChannelModel } from "amqplib";
import { type ApiServer, startApiServer } from "../../services/api/server.ts";
import { builtinHandlers } from "../../services/worker/jobs/index.ts";
import { RedisJobControlSubscriber } from "../../shared/events/redis-job-control.ts";
import { SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { createLogger } from "../../shared/observability/log.ts";
import { allExchanges, allQueues } from "../../shared/queue/queue-topology.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { describeJobType } from "../../shared/registry/announce.ts";
import { RedisJobTypeRegistry } from "../../shared/registry/redis-job-type-registry.ts";
import type { QueueType } from "../../shared/runtime/amqp-nodes.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { type Names, names } from "../../shared/store/names.ts";
import { scanKeys } from "../../shared/store/redis-client.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import type { HandlerRegistry } from "../../shared/worker/handlers.ts";
import { Worker } from "../../shared/worker/worker.ts";
import { connectTarget, type RedisTarget, standaloneTarget } from "./redis-target.ts";

export const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const log = createLogger((process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "silent");

export const randomNamespace = (prefix = "test"): string => `${prefix}-${randomBytes(6).toString("hex")}`;

export interface StackOptions {
  workers?: number;
  handlers?: HandlerRegistry;
  /** Per-worker handlers (worker index 0..workers-1), e.g. to record which worker ran a job.
   * Takes precedence over `handlers`. Each worker announces its own types; with no worker, the
   * types of `handlersFor(0)` are defined in the registry (known, no live worker). */
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
  /** Queue watchdog (shared/recovery/sweeper.ts), for API and workers. Default 10 min. */
  queueWatchdogMs?: number;
  /** JOB_TTL_SECONDS of the API and the workers. Default 3600. */
  jobTtlSeconds?: number;
  /** RabbitMQ URL of the API's queue connection only (e.g. through a test proxy); workers use AMQP_URL. */
  apiAmqpUrl?: string;
  /** The API's wait for a publisher confirm. Default 2000. */
  publishTimeoutMs?: number;
  /** JOB_TYPE_TTL_MS of the workers' announcements. Default 30000. */
  jobTypeTtlMs?: number;
  /** More API settings, as environment variables (see shared/runtime/config.ts). */
  env?: Record<string, string>;
  /** RabbitMQ nodes of API and workers (a private cluster); default the shared broker, AMQP_URL. */
  amqpUrls?: readonly string[];
  /** Queue type of API and workers. Default classic. */
  queueType?: QueueType;
  /** Quorum queues' x-delivery-limit. Default 50. */
  deliveryLimit?: number;
}

/** API settings that switch the per-client limits off: for tests that do not test limits, so that
 * many reads or submits from one address (every test client is 127.0.0.1) are never refused. */
export const noLimits: Readonly<Record<string, string>> = Object.freeze({
  RATE_LIMIT_READ_PER_MINUTE: "0",
  RATE_LIMIT_SUBMIT_PER_MINUTE: "0",
  MAX_JOBS_IN_FLIGHT: "0",
});

/** One more worker of a stack, with its own connections. */
export interface StackWorker {
  worker: Worker;
  /** Its own RabbitMQ connection (which node it is on: `connectedUrl()`). */
  queue: RabbitJobQueue;
  /** Stops the worker (running jobs finish within its grace) and closes its connections. Idempotent. */
  stop(): Promise<void>;
}

export interface Stack {
  baseUrl: string;
  names: Names;
  redis: RedisClient;
  apiQueue: RabbitJobQueue;
  api: ApiServer;
  workers: Worker[];
  /** The workers' own RabbitMQ connections, in worker order. */
  workerQueues: RabbitJobQueue[];
  /** Starts another worker on this namespace (default: the stack's handlers of worker 0); close() stops it. */
  addWorker(opts?: { handlers?: HandlerRegistry }): Promise<StackWorker>;
  close(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const ns = opts.namespace ?? randomNamespace();
  const n = names(ns);
  const handlersFor = opts.handlersFor ?? (() => opts.handlers ?? builtinHandlers);
  const ttlSeconds = opts.jobTtlSeconds ?? 3600;
  const amqpUrls = opts.amqpUrls ?? [AMQP_URL];
  const queueOpts = {
    url: amqpUrls,
    names: n,
    log,
    connectTimeoutMs: 5_000,
    publishTimeoutMs: 2_000,
    queueType: opts.queueType ?? "classic",
    deliveryLimit: opts.deliveryLimit ?? 50,
  };
  // Everything opened so far, closed in reverse order if a later step fails: a half-built stack
  // must not leave connections (or a namespace) behind.
  const opened: (() => Promise<unknown>)[] = [];
  const workers: StackWorker[] = [];
  const addWorker = async (handlers: HandlerRegistry): Promise<StackWorker> => {
    const w = await startWorker(n, handlers, { ...opts, ttlSeconds }, queueOpts);
    workers.push(w);
    return w;
  };
  try {
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    opened.push(async () => {
      await removeNamespace(n, redis, amqpUrls).catch(() => undefined);
      await redis.close();
    });
    const apiQueue = await RabbitJobQueue.connect({
      ...queueOpts,
      url: opts.apiAmqpUrl ?? amqpUrls,
      publishTimeoutMs: opts.publishTimeoutMs ?? 2_000,
    });
    opened.push(() => apiQueue.close());
    opened.push(async () => {
      for (const w of workers) await w.stop();
    });
    for (let i = 0; i < (opts.workers ?? 1); i++) await addWorker(handlersFor(i));
    // An API with no worker still needs to know the types its tests submit (they stay queued).
    if ((opts.workers ?? 1) === 0) await defineJobTypes(redis, n, handlersFor(0));

    const changesSub = await connectRedis(REDIS_URL, log, 5_000, "changes", undefined, "subscriber");
    opened.push(() => changesSub.close());
    const adapterPub = await connectRedis(REDIS_URL, log, 5_000);
    opened.push(() => adapterPub.close());
    const adapterSub = await connectRedis(REDIS_URL, log, 5_000, "adapter-sub", undefined, "subscriber");
    opened.push(() => adapterSub.close());
    const env: Record<string, string> = {
      HOST: "127.0.0.1",
      PORT: "0",
      HERALD_NAMESPACE: ns,
      INSTANCE_ID: opts.instanceId ?? `test-${ns}`,
      CORS_ORIGINS: (opts.corsOrigins ?? []).join(","),
      BODY_LIMIT_BYTES: String(opts.bodyLimitBytes ?? 1024 * 1024),
      JOB_TTL_SECONDS: String(ttlSeconds),
      LONG_POLL_MAX_SECONDS: String(opts.longPollMaxSeconds ?? 60),
      SSE_HEARTBEAT_MS: String(opts.sseHeartbeatMs ?? 15_000),
      SOCKET_MAX_JOBS: String(opts.socketMaxJobs ?? 100),
      SHUTDOWN_GRACE_MS: "2000",
      ...(opts.queueWatchdogMs !== undefined ? { QUEUE_WATCHDOG_MS: String(opts.queueWatchdogMs) } : {}),
      // The API runs a sweeper too: it sees the same lease settings as the workers.
      ...(opts.leaseMs !== undefined ? { LEASE_MS: String(opts.leaseMs) } : {}),
      ...(opts.stallTimeoutMs !== undefined ? { STALL_TIMEOUT_MS: String(opts.stallTimeoutMs) } : {}),
      ...opts.env,
    };
    const api = await startApiServer(
      loadConfig(env),
      { redis, changesSub, adapterPub, adapterSub, queue: apiQueue },
      log,
    );
    const port = api.port;

    let closing: Promise<void> | undefined;
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      names: n,
      redis,
      apiQueue,
      api,
      get workers() {
        return workers.map((w) => w.worker);
      },
      get workerQueues() {
        return workers.map((w) => w.queue);
      },
      addWorker: (more = {}) => addWorker(more.handlers ?? handlersFor(0)),
      close() {
        closing ??= (async () => {
          api.server.closeAllConnections();
          await api.close();
          await Promise.all([changesSub, adapterPub, adapterSub].map((c) => c.close()));
          for (const w of workers) await w.stop();
          await apiQueue.close();
          await removeNamespace(n, redis, amqpUrls);
          await redis.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function startWorker(
  n: Names,
  handlers: HandlerRegistry,
  opts: StackOptions & { ttlSeconds: number },
  queueOpts: Parameters<typeof RabbitJobQueue.connect>[0],
): Promise<StackWorker> {
  const opened: { close(): Promise<unknown> }[] = [];
  try {
    const wRedis = await connectRedis(REDIS_URL, log, 5_000);
    opened.push(wRedis);
    const wControl = await connectRedis(REDIS_URL, log, 5_000, "control", undefined, "subscriber");
    opened.push(wControl);
    const wQueue = await RabbitJobQueue.connect(queueOpts);
    opened.push(wQueue);
    const worker = new Worker({
      queue: wQueue,
      store: new RedisJobStore(wRedis, n, opts.ttlSeconds),
      events: new SocketIoJobEvents(wRedis, n, log),
      control: new RedisJobControlSubscriber(wControl, n, log),
      leaseMs: opts.leaseMs ?? 30_000,
      stallTimeoutMs: opts.stallTimeoutMs ?? 300_000,
      handlers,
      log,
      prefetch: opts.prefetch ?? 4,
      resultLimitBytes: opts.resultLimitBytes ?? 1024 * 1024,
      shutdownGraceMs: 2_000,
      ...(opts.queueWatchdogMs !== undefined ? { queueWatchdogMs: opts.queueWatchdogMs } : {}),
      resourceOrigins: (opts.env?.RESOURCE_ORIGINS ?? "").split(",").filter(Boolean),
      jobTypes: {
        registry: new RedisJobTypeRegistry({ redis: wRedis, names: n, log }),
        workerId: `stack-worker-${randomBytes(4).toString("hex")}`,
        ttlMs: opts.jobTypeTtlMs ?? 30_000,
      },
    });
    await worker.start();
    let stopping: Promise<void> | undefined;
    return {
      worker,
      queue: wQueue,
      stop() {
        stopping ??= (async () => {
          await worker.stop();
          await wQueue.close();
          await wRedis.close();
          await wControl.close();
        })();
        return stopping;
      },
    };
  } catch (err) {
    for (const c of opened.reverse()) await c.close().catch(() => undefined);
    throw err;
  }
}

/** Puts job types in a namespace's registry without a worker entry: an API then knows them (and
 * queues their jobs, with a no-worker warning) while no worker that announces them runs. */
export async function defineJobTypes(redis: RedisClient, n: Names, handlers: HandlerRegistry): Promise<void> {
  const types = [...handlers.values()].map((h) => describeJobType(h.type));
  await new RedisJobTypeRegistry({ redis, names: n, log }).define(types);
}

/** defineJobTypes over a connection of its own (for process clusters and the bench): to a Redis URL,
 * or to a target (a Redis Cluster too). */
export async function defineJobTypesAt(at: string | RedisTarget, n: Names, handlers: HandlerRegistry): Promise<void> {
  const redis = await connectTarget(typeof at === "string" ? standaloneTarget(at) : at, log, "define-job-types");
  try {
    await defineJobTypes(redis, n, handlers);
  } finally {
    await redis.close();
  }
}

/** The job store on the shared Redis under a fresh namespace, for one describe block: connected
 * before its tests, its namespace removed and its client closed after. Read `redis` and `store` in
 * the tests (they are set by the `before` hook this registers). */
export interface StoreFixture {
  readonly n: Names;
  redis: RedisClient;
  store: RedisJobStore;
}

export function storeOnFreshNamespace(prefix: string, ttlSeconds = 60): StoreFixture {
  const fixture = { n: names(randomNamespace(prefix)) } as StoreFixture;
  before(async () => {
    fixture.redis = await connectRedis(REDIS_URL, log, 5_000);
    fixture.store = new RedisJobStore(fixture.redis, fixture.n, ttlSeconds);
  });
  after(async () => {
    await removeNamespace(fixture.n, fixture.redis);
    await fixture.redis.close();
  });
  return fixture;
}

/** Deletes every queue, exchange and key of a test namespace (on the first of `amqpUrls` that answers). */
export async function removeNamespace(
  n: Names,
  redis: RedisClient,
  amqpUrls: readonly string[] = [AMQP_URL],
): Promise<void> {
  const conn = await connectFirst(amqpUrls);
  const ch = await conn.createChannel();
  for (const q of allQueues(n)) await ch.deleteQueue(q);
  for (const e of allExchanges(n)) await ch.deleteExchange(e);
  await conn.close();
  // One DEL per key: on a Redis Cluster the keys of a namespace live in many slots.
  const keys = await scanKeys(redis, `${n.namespace}:*`);
  await Promise.all(keys.map((k) => redis.del(k)));
}

/** A plain amqplib connection to the first of `urls` that answers (a cluster with a node down). */
export async function connectFirst(urls: readonly string[]): Promise<ChannelModel> {
  let last: unknown = new Error("no RabbitMQ URL");
  for (const url of urls) {
    try {
      return await amqp.connect(url);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
