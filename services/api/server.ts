// Assembles one API instance on an HTTP server: the Koa app, Socket.IO with the Redis adapter,
// and the change feed. main.ts gives it real connections; tests give it theirs.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { RedisJobChanges } from "../../shared/events/redis-job-changes.ts";
import { RedisJobControlPublisher } from "../../shared/events/redis-job-control.ts";
import { SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import type { Logger } from "../../shared/observability/log.ts";
import { type ApiMetrics, createApiMetrics, meteredEvents, Registry } from "../../shared/observability/metrics.ts";
import type { JobQueue } from "../../shared/queue/job-queue.ts";
import type { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { Sweeper, sweepIntervalMs } from "../../shared/recovery/sweeper.ts";
import { RedisJobTypeRegistry } from "../../shared/registry/redis-job-type-registry.ts";
import type { Config } from "../../shared/runtime/config.ts";
import { names } from "../../shared/store/names.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { RedisTrouble } from "../../shared/store/redis-trouble.ts";
import { createApp } from "./app.ts";
import { createCredentials } from "./credentials.ts";
import { defaultSecret, IdempotencyStore } from "./idempotency.ts";
import { InFlightLimiter, RateLimiter } from "./limits.ts";
import { originPolicy } from "./origins.ts";
import { PayloadValidator } from "./payload-validator.ts";
import { attachRealtime, type RealtimeServer } from "./realtime.ts";

export interface ApiConnections {
  /** Commands (job store). */
  redis: RedisClient;
  /** Dedicated subscriber for the change feed (and the job type registry's change messages). */
  changesSub: RedisClient;
  /** Dedicated pair for the Socket.IO adapter. */
  adapterPub: RedisClient;
  adapterSub: RedisClient;
  queue: Pick<JobQueue, "publish" | "isConnected" | "depth" | "refusing"> &
    /** RabbitMQ's: lets the operator page read and replay dead letters. */
    Partial<Pick<RabbitJobQueue, "withChannel">>;
}

export interface ApiServer {
  readonly server: Server;
  readonly io: RealtimeServer;
  readonly port: number;
  /** Not ready (for /readyz) from now on. */
  stopAccepting(): void;
  /** Tells sockets to reconnect elsewhere, finishes in-flight requests (bounded), closes the server. */
  close(): Promise<void>;
}

export async function startApiServer(
  settings: Config,
  conns: ApiConnections,
  log: Logger,
  /** main.ts passes its own (it counts broker reconnects too); a test stack gets a fresh registry. */
  metrics: ApiMetrics = createApiMetrics(new Registry()),
): Promise<ApiServer> {
  const n = names(settings.namespace);
  const store = new RedisJobStore(conns.redis, n, settings.jobTtlSeconds);
  metrics.probeQueueDepth(() => conns.queue.depth());
  const events = meteredEvents(new SocketIoJobEvents(conns.redis, n, log), metrics);
  // Runs here too (not only in workers), so stalled jobs end and lost messages are republished
  // even while no worker runs.
  const trouble = new RedisTrouble(conns.redis);
  const sweeper = new Sweeper({
    metrics,
    store,
    queue: conns.queue,
    events,
    log,
    stallTimeoutMs: settings.stallTimeoutMs,
    redisTroubleAt: () => trouble.lastAt,
    queueWatchdogMs: settings.queueWatchdogMs,
    intervalMs: sweepIntervalMs(settings.leaseMs, settings.queueWatchdogMs),
  });
  const changes = new RedisJobChanges(conns.changesSub, n, log);
  // What POST /jobs validates against: the job types workers announce, learnt while running.
  const jobTypes = new RedisJobTypeRegistry({
    redis: conns.redis,
    subscriber: conns.changesSub,
    names: n,
    log,
    cacheMs: settings.jobTypeCacheMs,
  });
  await jobTypes.listen();
  const origins = originPolicy(settings.corsOrigins);
  let accepting = true;
  const shutdown = new AbortController();
  const credentials = createCredentials(settings.apiKeys, settings.jwt);
  if (!credentials.required) log.warn("no API_KEYS or JWT_* configured: anyone may submit jobs");
  if (!settings.heraldSecret) {
    log.warn("HERALD_SECRET is unset: Idempotency-Key records are only as secret as the keys (see README)");
  }
  const app = createApp({
    store,
    changes,
    events,
    control: new RedisJobControlPublisher(conns.redis, n),
    queue: conns.queue,
    jobTypes,
    payloads: new PayloadValidator(),
    withoutWorker: settings.jobTypeWithoutWorker,
    log,
    credentials,
    idempotency: new IdempotencyStore(conns.redis, n, {
      ttlSeconds: settings.idempotencyTtlSeconds,
      secret: settings.heraldSecret ?? defaultSecret,
      log,
    }),
    rateLimiter: new RateLimiter(conns.redis, n),
    inFlight: new InFlightLimiter(conns.redis, n),
    accepting: () => accepting,
    shutdown: shutdown.signal,
    metrics,
    instanceId: settings.instanceId,
    origins,
    proxyHops: settings.trustProxyHops,
    bodyLimitBytes: settings.bodyLimitBytes,
    hints: {
      retryAfterSeconds: settings.retryAfterSeconds,
      retryAfterMaxSeconds: settings.retryAfterMaxSeconds,
      resourceOrigins: settings.resourceOrigins,
    },
    sseHeartbeatMs: settings.sseHeartbeatMs,
    limits: {
      longPollMaxSeconds: settings.longPollMaxSeconds,
      submitPerMinute: settings.rateLimitSubmitPerMinute,
      readPerMinute: settings.rateLimitReadPerMinute,
      maxJobsInFlight: settings.maxJobsInFlight,
      maxQueueDepth: settings.maxQueueDepth,
      jobTtlSeconds: settings.jobTtlSeconds,
    },
    readiness: () => ({ accepting, rabbitmq: conns.queue.isConnected(), redis: conns.redis.isReady }),
    metricsToken: settings.metricsToken ?? null,
    admin: {
      token: settings.adminToken ?? null,
      redis: conns.redis,
      names: n,
      store,
      events,
      queue: conns.queue,
      withChannel: conns.queue.withChannel?.bind(conns.queue) ?? null,
      log,
    },
  });
  const server = createServer(app.callback());
  server.requestTimeout = 120_000;
  const io = attachRealtime(server, {
    store,
    credentials,
    eventsPerSecond: settings.socketEventsPerSecond,
    adapterPub: conns.adapterPub,
    adapterSub: conns.adapterSub,
    names: n,
    log,
    origins,
    resourceOrigins: settings.resourceOrigins,
    maxJobsPerSocket: settings.socketMaxJobs,
    maxBufferBytes: settings.socketMaxBufferBytes,
    metrics,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, settings.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  sweeper.start();

  let closing: Promise<void> | null = null;
  return {
    server,
    io,
    port,
    stopAccepting: () => {
      accepting = false;
    },
    close() {
      closing ??= (async () => {
        accepting = false;
        sweeper.stop();
        trouble.close();
        shutdown.abort(); // held long polls answer, SSE streams end: their clients go elsewhere
        // Closing the engine drops sockets without a "server disconnect", so clients reconnect
        // (through the balancer, to another instance) and resubscribe.
        io.engine.close();
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => server.closeAllConnections(), settings.shutdownGraceMs);
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          server.closeIdleConnections();
        });
        await changes.close();
        await jobTypes.close();
      })();
      return closing;
    },
  };
}
