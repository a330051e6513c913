// A Herald worker process built exactly as services/worker/main.ts builds it (same engine, store,
// events, queue, config from the environment), with the bench's handler registry (bench-jobs.ts)
// instead of the bundled jobs: no-op and ticker jobs that the shipped handlers do not offer.
import { RedisJobControlSubscriber } from "../../shared/events/redis-job-control.ts";
import { SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { createLogger } from "../../shared/observability/log.ts";
import { createWorkerMetrics, meteredEvents, Registry } from "../../shared/observability/metrics.ts";
import { setupTracing } from "../../shared/observability/tracing.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { exitOnSignals, exitOnStartupError } from "../../shared/runtime/shutdown.ts";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { Worker } from "../../shared/worker/worker.ts";
import { benchHandlers } from "./bench-jobs.ts";

const bootLog = createLogger("info", { service: "worker" });
try {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { service: "worker", instance: config.instanceId });
  const tracing = setupTracing("herald-worker");
  const n = names(config.namespace);
  const metrics = createWorkerMetrics(new Registry());
  const redisAt = (role: string) =>
    connectRedis(config.redisUrl, log, config.connectTimeoutMs, role, metrics.reconnected("redis"));
  const redis = await redisAt("store");
  const controlSub = await redisAt("control");
  const queue = await RabbitJobQueue.fromConfig(config, log, metrics.reconnected("rabbitmq"));
  const worker = new Worker({
    queue,
    store: new RedisJobStore(redis, n, config.jobTtlSeconds),
    events: meteredEvents(new SocketIoJobEvents(redis, n, log), metrics),
    control: new RedisJobControlSubscriber(controlSub, n, log),
    handlers: benchHandlers,
    log,
    prefetch: config.workerPrefetch,
    resultLimitBytes: config.resultLimitBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    leaseMs: config.leaseMs,
    stallTimeoutMs: config.stallTimeoutMs,
    queueWatchdogMs: config.queueWatchdogMs,
    resourceOrigins: config.resourceOrigins,
    metrics,
  });
  exitOnSignals(
    () => [
      ["stop the worker", () => worker.stop()],
      ["close RabbitMQ", () => queue.close()],
      ["close Redis", () => Promise.all([redis.close(), controlSub.close()])],
      ["flush traces", () => tracing.shutdown()],
    ],
    log,
  );
  await worker.start();
  log.warn("bench worker ready", { prefetch: config.workerPrefetch });
} catch (err) {
  exitOnStartupError(err, bootLog);
}
