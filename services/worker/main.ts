// The worker process: connects to Redis and RabbitMQ, consumes jobs, stops gracefully on SIGTERM.
import { loadConfig } from "../../shared/config.ts";
import { createLogger } from "../../shared/log.ts";
import { createWorkerMetrics, meteredEvents, Registry } from "../../shared/metrics.ts";
import { serveMetrics } from "../../shared/metrics-server.ts";
import { names } from "../../shared/names.ts";
import { RabbitJobQueue } from "../../shared/rabbit-job-queue.ts";
import { connectRedis } from "../../shared/redis-connect.ts";
import { RedisJobControlSubscriber } from "../../shared/redis-job-control.ts";
import { RedisJobStore } from "../../shared/redis-job-store.ts";
import { exitOnSignals, exitOnStartupError } from "../../shared/shutdown.ts";
import { SocketIoJobEvents } from "../../shared/socketio-job-events.ts";
import { setupTracing } from "../../shared/tracing.ts";
import { builtinHandlers } from "./jobs/index.ts";
import { Worker } from "./worker.ts";

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
    handlers: builtinHandlers,
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
  const metricsServer =
    config.workerMetricsPort === null
      ? null
      : await serveMetrics(metrics.registry, config.workerMetricsPort, config.host);
  exitOnSignals(
    () => [
      ["stop the worker", () => worker.stop()],
      ["close RabbitMQ", () => queue.close()],
      ["close Redis", () => Promise.all([redis.close(), controlSub.close()])],
      ["flush traces", () => tracing.shutdown()],
      ["close the metrics server", () => metricsServer?.close()],
    ],
    log,
  );
  await worker.start();
  log.info("worker ready", {
    jobTypes: [...builtinHandlers.keys()],
    prefetch: config.workerPrefetch,
    ...(metricsServer ? { metrics: `http://${config.host}:${metricsServer.port}/metrics` } : {}),
  });
} catch (err) {
  exitOnStartupError(err, bootLog);
}
