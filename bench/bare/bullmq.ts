// BullMQ, the peer users would pick instead, on the same Redis, each role in its own process:
//   producer: adds no-op jobs from `concurrency` loops and counts completions through QueueEvents;
//   worker:   completes them (a processor that returns at once), `concurrency` at a time.
// Argument: the role. BENCH_BULLMQ_QUEUE and BENCH_BULLMQ_PREFIX name the queue (fresh per run).
import { Queue, QueueEvents, Worker } from "bullmq";
import { REDIS_URL } from "../brokers.ts";
import { serve } from "../procs/ipc.ts";

const role = process.argv[2];
const name = process.env.BENCH_BULLMQ_QUEUE;
const prefix = process.env.BENCH_BULLMQ_PREFIX;
if (!name || !prefix) throw new Error("BENCH_BULLMQ_QUEUE and BENCH_BULLMQ_PREFIX are required");
const url = new URL(REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379) };

if (role === "worker") {
  const concurrency = Number(process.env.BENCH_BULLMQ_CONCURRENCY ?? 1);
  const worker = new Worker(name, async () => null, { connection, prefix, concurrency });
  worker.on("error", (err) => console.error(`bullmq worker: ${String(err)}`));
  await worker.waitUntilReady();
  process.on("SIGTERM", () => worker.close().finally(() => process.exit(0)));
  serve({});
} else if (role === "producer") {
  const queue = new Queue(name, { connection, prefix });
  queue.on("error", (err) => console.error(`bullmq queue: ${String(err)}`));
  const events = new QueueEvents(name, { connection, prefix });
  events.on("error", (err) => console.error(`bullmq events: ${String(err)}`));
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  let completed = 0;
  events.on("completed", () => {
    completed++;
  });
  let added = 0;
  serve({
    add: async ({ concurrency, seconds }: { concurrency: number; seconds: number }) => {
      const end = performance.now() + seconds * 1000;
      const loop = async () => {
        while (performance.now() < end) {
          await queue.add("noop", { steps: 1, stepMs: 0 });
          added++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, loop));
      return added;
    },
    counts: () => ({ added, completed }),
    /** Removes the queue and everything in it (the bench's cleanup). */
    obliterate: async () => {
      await queue.obliterate({ force: true });
    },
  });
  process.on("SIGTERM", () => Promise.all([events.close(), queue.close()]).finally(() => process.exit(0)));
} else {
  throw new Error(`bench/bare/bullmq.ts: role "producer" or "worker", not "${role}"`);
}
