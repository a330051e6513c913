// `npm run dead-letters -- list` shows the dead-letter queue of HERALD_NAMESPACE;
// `npm run dead-letters -- replay --all` or `... replay <jobId> [<jobId> ...]` puts messages back
// on the jobs queue and resets their jobs to `queued` with a fresh set of attempts.
import amqp from "amqplib";
import { loadConfig } from "../shared/config.ts";
import { listDeadLetters, replayDeadLetters } from "../shared/dead-letters.ts";
import { createLogger } from "../shared/log.ts";
import { names } from "../shared/names.ts";
import { RabbitJobQueue } from "../shared/rabbit-job-queue.ts";
import { connectRedis } from "../shared/redis-connect.ts";
import { RedisJobStore } from "../shared/redis-job-store.ts";
import { SocketIoJobEvents } from "../shared/socketio-job-events.ts";

const [command, ...args] = process.argv.slice(2);
const usage = "usage: dead-letters list | dead-letters replay (--all | <jobId>...)";
if (command !== "list" && command !== "replay") {
  console.error(usage);
  process.exit(2);
}
if (command === "replay" && args.length === 0) {
  console.error(usage);
  process.exit(2);
}

const config = loadConfig();
const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, { service: "dead-letters" });
const n = names(config.namespace);
const conn = await amqp.connect(config.amqpUrl);
conn.on("error", (err: Error) => log.warn("RabbitMQ connection error", { error: err.message }));
const ch = await conn.createChannel();
try {
  if (command === "list") {
    const letters = await listDeadLetters(ch, n);
    console.log(JSON.stringify({ queue: n.deadLetterQueue, count: letters.length, messages: letters }, null, 2));
  } else {
    const redis = await connectRedis(config.redisUrl, log, config.connectTimeoutMs);
    const queue = await RabbitJobQueue.fromConfig(config, log);
    try {
      const only = args.includes("--all") ? null : new Set(args);
      const report = await replayDeadLetters(
        {
          ch,
          names: n,
          queue,
          store: new RedisJobStore(redis, n, config.jobTtlSeconds),
          events: new SocketIoJobEvents(redis, n, log),
        },
        only,
      );
      console.log(JSON.stringify(report, null, 2));
    } finally {
      await queue.close();
      await redis.close();
    }
  }
} finally {
  await ch.close();
  await conn.close();
}
