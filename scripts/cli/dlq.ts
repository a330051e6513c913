// `herald dlq list` shows the dead-letter queue of HERALD_NAMESPACE; `herald dlq replay --all` or
// `herald dlq replay <jobId>…` puts messages back on the jobs queue and resets their jobs to
// `queued` with a fresh set of attempts (shared/queue/dead-letters.ts). Talks to RabbitMQ and Redis
// directly (AMQP_URL, REDIS_URL or REDIS_CLUSTER_NODES), not to the API. `npm run dead-letters` runs
// the same code.
import { SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { createLogger } from "../../shared/observability/log.ts";
import { listDeadLetters, replayDeadLetters } from "../../shared/queue/dead-letters.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { UsageError } from "./errors.ts";
import { type ExitCode, exitCodes } from "./exit-codes.ts";
import { config, parse } from "./options.ts";

export const dlqUsage = "list | replay (--all | <jobId>...)";

export async function dlqCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parse(args, { all: { type: "boolean", default: false } });
  const [command, ...ids] = positionals;
  if (command === "list" && ids.length === 0 && !values.all) return list();
  if (command === "replay" && values.all !== ids.length > 0) return replay(values.all ? null : new Set(ids));
  throw new UsageError(`expected ${dlqUsage}`);
}

async function list(): Promise<ExitCode> {
  const cfg = config();
  const log = createLogger(cfg.logLevel === "info" ? "warn" : cfg.logLevel, { service: "dead-letters" });
  const n = names(cfg.namespace);
  // Through the queue adapter: it finds a live node of AMQP_URL's list.
  const queue = await RabbitJobQueue.fromConfig(cfg, log);
  try {
    // Unacked reads: every message goes back when the channel closes.
    const letters = await queue.withChannel((ch) => listDeadLetters(ch, n));
    print({ queue: n.deadLetterQueue, count: letters.length, messages: letters });
    return exitCodes.ok;
  } finally {
    await queue.close();
  }
}

async function replay(only: ReadonlySet<string> | null): Promise<ExitCode> {
  const cfg = config();
  const log = createLogger(cfg.logLevel === "info" ? "warn" : cfg.logLevel, { service: "dead-letters" });
  const n = names(cfg.namespace);
  const redis = await connectRedis(cfg.redis, log, cfg.connectTimeoutMs);
  try {
    const queue = await RabbitJobQueue.fromConfig(cfg, log);
    try {
      const store = new RedisJobStore(redis, n, cfg.jobTtlSeconds);
      const events = new SocketIoJobEvents(redis, n, log);
      print(await queue.withChannel((ch) => replayDeadLetters({ ch, names: n, queue, store, events }, only)));
      return exitCodes.ok;
    } finally {
      await queue.close();
    }
  } finally {
    await redis.close();
  }
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
