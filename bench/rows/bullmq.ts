// Row 7, the peer users would pick instead: BullMQ on the same Redis, a producer process adding
// no-op jobs, a worker process completing them, each completion counted through QueueEvents;
// its sustained jobs/s beside Herald's (row 2, measured earlier in the same run).
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import { REDIS_URL } from "../brokers.ts";
import { budgetNote, usedText } from "../budget.ts";
import { WORKER_CONCURRENCY } from "../herald.ts";
import { measured, watch } from "../phase.ts";
import { spawnNode } from "../procs.ts";
import { compare, cpuMsPerOp, type Measure } from "../result.ts";
import type { Row } from "./context.ts";

interface Counts {
  added: number;
  completed: number;
}

export const bullmqRow: Row = {
  id: "bullmq",
  title: "7 BullMQ beside Herald: sustained no-op jobs/s, completions counted through QueueEvents",
  async run(ctx) {
    const { opts } = ctx;
    const id = randomBytes(6).toString("hex");
    const env = {
      BENCH_BULLMQ_QUEUE: `noop-${id}`,
      BENCH_BULLMQ_PREFIX: `bench-bull-${id}`,
      BENCH_BULLMQ_CONCURRENCY: String(WORKER_CONCURRENCY),
    };
    ctx.cleanup.add(`remove ${env.BENCH_BULLMQ_PREFIX}:*`, () => removeKeys(`${env.BENCH_BULLMQ_PREFIX}:*`));
    const producer = spawnNode("bullmq-producer", "bench/bare/bullmq.ts", ["producer"], { env });
    ctx.cleanup.add("stop bullmq-producer", () => producer.stop());
    ctx.cleanup.add("obliterate the BullMQ queue", () => producer.alive && producer.request("obliterate"));
    const worker = spawnNode("bullmq-worker", "bench/bare/bullmq.ts", ["worker"], { env });
    ctx.cleanup.add("stop bullmq-worker", () => worker.stop());
    await Promise.all([producer.ready(), worker.ready()]);

    ctx.log(`BullMQ sustained, ${opts.sustainedSec} s`);
    await producer.request("add", { concurrency: opts.connections, seconds: opts.warmupSec });
    const before = await producer.request<Counts>("counts");
    const phase = await measured([...watch(producer, worker), ...ctx.brokers], () =>
      producer.request("add", { concurrency: opts.connections, seconds: opts.sustainedSec }),
    );
    const after = await producer.request<Counts>("counts");
    // Every added job must complete: wait (bounded) for the backlog.
    const deadline = Date.now() + 60_000;
    let last = after;
    while (last.completed < last.added && Date.now() < deadline) {
      await sleep(100);
      last = await producer.request<Counts>("counts");
    }
    const completed = after.completed - before.completed;
    const bull: Measure = {
      label: `BullMQ ${WORKER_CONCURRENCY} concurrency, ${opts.connections} adding`,
      side: "bare",
      rate: completed / phase.seconds,
      unit: "jobs/s",
      count: completed,
      lost: last.added - last.completed,
      cpuMsPerOp: cpuMsPerOp(phase.processes, ["bullmq-producer", "bullmq-worker"], completed),
      extra: { "added/s": (after.added - before.added) / phase.seconds },
      processes: phase.processes,
    };
    const herald = ctx.shared.get("herald-sustained");
    const budget =
      herald &&
      budgetNote(herald, {
        goalRate: 0.5 * (bull.rate ?? 0),
        cores: availableParallelism(),
        herald: ["api", "worker"],
        op: "job",
      });
    const bullUsed = usedText(bull, availableParallelism(), "job");
    return {
      id: "bullmq",
      title: this.title,
      measures: herald ? [herald, bull] : [bull],
      comparisons: [compare("sustained jobs/s vs BullMQ", herald?.rate, bull.rate, { atLeast: 0.5 })],
      notes: [
        ...(herald
          ? ["Herald's line is row 2's (HTTP, a RabbitMQ confirm, realtime events); BullMQ adds from its own client"]
          : ["run the sustained row too (it runs before this one) for Herald's figure"]),
        ...(bullUsed ? [`machine: bare ${bullUsed}`] : []),
        ...(budget ? [budget] : []),
      ],
    };
  },
};

async function removeKeys(pattern: string): Promise<void> {
  const redis = createClient({ url: REDIS_URL });
  redis.on("error", () => {});
  await redis.connect();
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 1000 })) keys.push(...batch);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(keys.slice(i, i + 1000));
  } finally {
    await redis.close();
  }
}
