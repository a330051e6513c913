// `startWorker`: a worker in the caller's process, configured from the environment like
// `npm run start:worker` (shared/runtime/config.ts). It connects to Redis and RabbitMQ, consumes
// the given jobs, announces their types in the job type registry (shared/registry/) and returns a
// handle whose `stop()` shuts down in order. services/worker/main.ts and `herald worker` run
// through here; they add the signal handling a process of its own needs.
import { RedisJobControlSubscriber } from "../events/redis-job-control.ts";
import { SocketIoJobEvents } from "../events/socketio-job-events.ts";
import { createLogger, type Logger } from "../observability/log.ts";
import { createWorkerMetrics, meteredEvents, Registry } from "../observability/metrics.ts";
import { serveMetrics } from "../observability/metrics-server.ts";
import { setupTracing } from "../observability/tracing.ts";
import { RabbitJobQueue } from "../queue/rabbit-job-queue.ts";
import { RedisJobTypeRegistry } from "../registry/redis-job-type-registry.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { runSteps, type Step } from "../runtime/shutdown.ts";
import { names } from "../store/names.ts";
import { connectRedis } from "../store/redis-connect.ts";
import { RedisJobStore } from "../store/redis-job-store.ts";
import { RedisTrouble } from "../store/redis-trouble.ts";
import { type HandlerRegistry, type RegisteredHandler, registry } from "./handlers.ts";
import { Worker } from "./worker.ts";

export interface StartWorkerOptions {
  /** The job types this worker serves: `defineJob(...)` values (or a registry of handlers). */
  jobs: readonly RegisteredHandler[] | HandlerRegistry;
  /** Where the settings come from (AMQP_URL, REDIS_URL, HERALD_NAMESPACE, ...). Default process.env. */
  env?: Record<string, string | undefined>;
  /** Logs here instead of a logger built from LOG_LEVEL. */
  log?: Logger;
  /** Register Herald's OpenTelemetry tracer provider (exporting over OTLP when OTEL_EXPORTER_OTLP_*
   * is set). Default true; false leaves a process that sets up OpenTelemetry itself alone (its
   * provider, if any, then gets the worker's spans). */
  tracing?: boolean;
}

export interface RunningWorker {
  readonly config: Config;
  readonly log: Logger;
  /** The job type names served. */
  readonly jobTypes: readonly string[];
  /** Lets running jobs finish (up to SHUTDOWN_GRACE_MS), then closes every connection. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const handlers = Array.isArray(options.jobs)
    ? registry(options.jobs as readonly RegisteredHandler[])
    : (options.jobs as HandlerRegistry);
  if (handlers.size === 0) throw new TypeError("startWorker: no jobs given");
  const env = options.env ?? process.env;
  const config = loadConfig(env);
  const log = options.log ?? createLogger(config.logLevel, { service: "worker", instance: config.instanceId });
  for (const warning of config.warnings) log.warn(warning);
  const steps: Step[] = []; // what to undo, most recent last; also the shutdown order, reversed
  const stopAll = () => runSteps([...steps].reverse(), log);
  try {
    if (options.tracing ?? true) {
      const tracing = setupTracing("herald-worker", { env });
      steps.push(["flush traces", () => tracing.shutdown()]);
    }
    const metrics = createWorkerMetrics(new Registry());
    const redisAt = async (role: string, use: "commands" | "subscriber" = "commands") => {
      const client = await connectRedis(
        config.redis,
        log,
        config.connectTimeoutMs,
        role,
        metrics.reconnected("redis"),
        use,
      );
      steps.push([`close Redis (${role})`, () => client.close()]);
      return client;
    };
    const redis = await redisAt("store");
    const trouble = new RedisTrouble(redis);
    steps.push(["stop watching Redis", async () => trouble.close()]);
    const controlSub = await redisAt("control", "subscriber");
    const queue = await RabbitJobQueue.fromConfig(config, log, metrics.reconnected("rabbitmq"));
    steps.push(["close RabbitMQ", () => queue.close()]);
    const n = names(config.namespace);
    const worker = new Worker({
      queue,
      store: new RedisJobStore(redis, n, config.jobTtlSeconds),
      events: meteredEvents(new SocketIoJobEvents(redis, n, log), metrics),
      control: new RedisJobControlSubscriber(controlSub, n, log),
      handlers,
      log,
      prefetch: config.workerPrefetch,
      resultLimitBytes: config.resultLimitBytes,
      shutdownGraceMs: config.shutdownGraceMs,
      leaseMs: config.leaseMs,
      redisTroubleAt: () => trouble.lastAt,
      stallTimeoutMs: config.stallTimeoutMs,
      queueWatchdogMs: config.queueWatchdogMs,
      resourceOrigins: config.resourceOrigins,
      metrics,
      // The API learns these types (and new versions of them) from here, with no restart.
      jobTypes: {
        registry: new RedisJobTypeRegistry({ redis, names: n, log }),
        workerId: config.instanceId,
        ttlMs: config.jobTypeTtlMs,
      },
    });
    const metricsServer =
      config.workerMetricsPort === null
        ? null
        : await serveMetrics(metrics.registry, config.workerMetricsPort, config.host, config.metricsToken ?? null);
    if (metricsServer) steps.push(["close the metrics server", () => metricsServer.close()]);
    steps.push(["stop the worker", () => worker.stop()]); // first to run on stop
    await worker.start();
    const jobTypes = [...handlers.keys()];
    log.info("worker ready", {
      jobTypes,
      prefetch: config.workerPrefetch,
      ...(metricsServer ? { metrics: `http://${config.host}:${metricsServer.port}/metrics` } : {}),
    });
    let stopping: Promise<void> | null = null;
    return { config, log, jobTypes, stop: () => (stopping ??= stopAll()) };
  } catch (err) {
    await stopAll(); // close whatever was opened before the failure
    throw err;
  }
}
