// The API process: connects to Redis and RabbitMQ, serves HTTP, stops gracefully on SIGTERM.
import { createServer } from "node:http";
import { loadConfig } from "../../shared/config.ts";
import { builtinJobTypes } from "../../shared/job-types.ts";
import { createLogger } from "../../shared/log.ts";
import { names } from "../../shared/names.ts";
import { RabbitJobQueue } from "../../shared/rabbit-job-queue.ts";
import { connectRedis } from "../../shared/redis-connect.ts";
import { RedisJobStore } from "../../shared/redis-job-store.ts";
import { exitOnSignals, exitOnStartupError } from "../../shared/shutdown.ts";
import { createApp } from "./app.ts";

const bootLog = createLogger("info", { service: "api" });
try {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { service: "api", instance: config.instanceId });
  const n = names(config.namespace);
  const redis = await connectRedis(config.redisUrl, log, config.connectTimeoutMs);
  const queue = await RabbitJobQueue.connect({
    url: config.amqpUrl,
    names: n,
    log,
    connectTimeoutMs: config.connectTimeoutMs,
    publishTimeoutMs: config.publishTimeoutMs,
  });
  let accepting = true;
  const app = createApp({
    store: new RedisJobStore(redis, n, config.jobTtlSeconds),
    queue,
    catalog: builtinJobTypes,
    log,
    instanceId: config.instanceId,
    bodyLimitBytes: config.bodyLimitBytes,
    hints: { retryAfterSeconds: config.retryAfterSeconds, retryAfterMaxSeconds: config.retryAfterMaxSeconds },
    readiness: () => ({ accepting, rabbitmq: queue.isConnected(), redis: redis.isReady }),
  });
  const server = createServer(app.callback());
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  exitOnSignals(
    () => [
      ["stop accepting", () => (accepting = false)],
      ["finish in-flight requests", () => closeServer(server, config.shutdownGraceMs)],
      ["close RabbitMQ", () => queue.close()],
      ["close Redis", () => redis.close()],
    ],
    log,
  );
  log.info("api listening", { url: `http://${config.host}:${port}`, jobTypes: [...builtinJobTypes.keys()] });
} catch (err) {
  exitOnStartupError(err, bootLog);
}

function closeServer(server: ReturnType<typeof createServer>, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
