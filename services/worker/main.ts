// The worker process: connects to Redis and RabbitMQ, consumes jobs, stops gracefully on SIGTERM.
import { loadConfig } from "../../shared/config.ts";
import { createLogger } from "../../shared/log.ts";
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
  const redis = await connectRedis(config.redisUrl, log, config.connectTimeoutMs, "store");
  const controlSub = await connectRedis(config.redisUrl, log, config.connectTimeoutMs, "control");
  const queue = await RabbitJobQueue.fromConfig(config, log);
  const worker = new Worker({
    queue,
    store: new RedisJobStore(redis, n, config.jobTtlSeconds),
    events: new SocketIoJobEvents(redis, n, log),
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
  log.info("worker ready", { jobTypes: [...builtinHandlers.keys()], prefetch: config.workerPrefetch });
} catch (err) {
  exitOnStartupError(err, bootLog);
}
