// The API process: connects to Redis and RabbitMQ, serves HTTP and Socket.IO, stops gracefully.

import { createLogger } from "../../shared/observability/log.ts";
import { createApiMetrics, Registry } from "../../shared/observability/metrics.ts";
import { setupTracing } from "../../shared/observability/tracing.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { exitOnSignals, exitOnStartupError } from "../../shared/runtime/shutdown.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { startApiServer } from "./server.ts";

const bootLog = createLogger("info", { service: "api" });
try {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { service: "api", instance: config.instanceId });
  for (const warning of config.warnings) log.warn(warning);
  const tracing = setupTracing("herald-api");
  const metrics = createApiMetrics(new Registry());
  const redisAt = (role: string, use: "commands" | "subscriber" = "commands") =>
    connectRedis(config.redis, log, config.connectTimeoutMs, role, metrics.reconnected("redis"), use);
  const [redis, changesSub, adapterPub, adapterSub] = await Promise.all([
    redisAt("store"),
    redisAt("changes", "subscriber"),
    redisAt("adapter-pub"),
    redisAt("adapter-sub", "subscriber"),
  ]);
  const queue = await RabbitJobQueue.fromConfig(config, log, metrics.reconnected("rabbitmq"));
  const api = await startApiServer(config, { redis, changesSub, adapterPub, adapterSub, queue }, log, metrics);
  exitOnSignals(
    () => [
      ["stop accepting", () => api.stopAccepting()],
      ["close the server", () => api.close()],
      ["close RabbitMQ", () => queue.close()],
      ["close Redis", () => Promise.all([redis, changesSub, adapterPub, adapterSub].map((c) => c.close()))],
      ["flush traces", () => tracing.shutdown()],
    ],
    log,
  );
  log.info("api listening", {
    url: `http://${config.host}:${api.port}`,
    jobTypeWithoutWorker: config.jobTypeWithoutWorker,
    corsOrigins: config.corsOrigins,
  });
} catch (err) {
  exitOnStartupError(err, bootLog);
}
