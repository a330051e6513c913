// Row 2, sustained jobs/s: no-op jobs through API + worker for the sustained phase, each followed by
// a subscribed client (in the load generator's process) to its terminal event; every accepted job
// must end (none lost). Baselines: bare Koa POST; bare publish (confirm) → consume → ack.
import { availableParallelism } from "node:os";
import { budgetNote } from "../budget.ts";
import { startHerald, WORKER_CONCURRENCY } from "../herald.ts";
import type { LoadResult } from "../load/http-load.ts";
import type { TrackCounts } from "../load/job-tracker.ts";
import { measured, watch } from "../phase.ts";
import { compare, cpuMsPerOp, type Measure } from "../result.ts";
import { bareAmqp, koaPost } from "./baselines.ts";
import type { Row } from "./context.ts";
import { NOOP_JOB, sampleJob, startLoad } from "./http.ts";

/** Sockets the tracking client spreads its subscriptions over. */
const TRACKER_SOCKETS = 4;

export const sustainedRow: Row = {
  id: "sustained",
  title: "2 Sustained jobs/s: POST → worker → terminal event at a subscribed client",
  async run(ctx) {
    const { opts } = ctx;
    const [herald, load, publisher, consumer] = await Promise.all([
      startHerald(ctx, { apis: 1, workers: 0 }),
      startLoad(ctx),
      bareAmqp(ctx, "amqp-publisher"),
      bareAmqp(ctx, "amqp-consumer"),
    ]);
    const api = herald.apis[0];
    if (!api) throw new Error("no API");
    const sample = await sampleJob(api.url);
    const worker = await herald.addWorker();
    await load.request("track", { url: api.url, sockets: TRACKER_SOCKETS });
    ctx.cleanup.add("stop tracking jobs", () => load.alive && load.request("untrack"));
    const spec = { url: `${api.url}/jobs`, method: "POST", body: NOOP_JOB, connections: opts.connections };

    ctx.log(`Herald sustained, ${opts.sustainedSec} s`);
    await load.request("run", { ...spec, seconds: opts.warmupSec });
    const phase = await measured([...watch(api.child, worker, load), ...ctx.brokers], () =>
      load.request<LoadResult>("run", { ...spec, seconds: opts.sustainedSec }),
    );
    const r = phase.result;
    const counts = await load.request<TrackCounts>("drain", { from: r.from, to: r.to, timeoutMs: 60_000 });
    const seconds = (r.to - r.from) / 1000;
    const heraldMeasure: Measure = {
      label: "no-op jobs, terminal event at the client",
      side: "herald",
      rate: counts.inWindow / seconds,
      unit: "jobs/s",
      count: counts.inWindow,
      errors: r.errors + counts.failed,
      lost: counts.lost,
      latency: counts.endToEnd,
      cpuMsPerOp: cpuMsPerOp(phase.processes, ["api", "worker"], counts.inWindow),
      extra: { "accepted/s": r.rate, accepted: counts.accepted, ended: counts.terminal },
      processes: phase.processes,
    };
    ctx.shared.set("herald-sustained", heraldMeasure);

    const koa = await koaPost(ctx, load, sample.acceptedBody);

    ctx.log(`bare publish → consume → ack, ${opts.sustainedSec} s`);
    await consumer.child.request("consume", { queue: publisher.queue, prefetch: WORKER_CONCURRENCY });
    const publish = { queue: publisher.queue, concurrency: opts.connections, body: NOOP_JOB };
    await publisher.child.request("publish", { ...publish, seconds: opts.warmupSec });
    const before = await consumer.child.request<number>("consumed");
    const bare = await measured([...watch(publisher.child, consumer.child), ...ctx.brokers], async () => {
      const published = await publisher.child.request<{ count: number }>("publish", {
        ...publish,
        seconds: opts.sustainedSec,
      });
      return { published, consumed: (await consumer.child.request<number>("consumed")) - before };
    });
    const bareMeasure: Measure = {
      label: `amqplib publish+confirm → consume → ack (prefetch ${WORKER_CONCURRENCY})`,
      side: "bare",
      rate: bare.result.consumed / bare.seconds,
      unit: "msg/s",
      count: bare.result.consumed,
      cpuMsPerOp: cpuMsPerOp(bare.processes, ["amqp-publisher", "amqp-consumer"], bare.result.consumed),
      extra: { "published/s": bare.result.published.count / bare.seconds },
      processes: bare.processes,
    };
    const budget = budgetNote(heraldMeasure, {
      goalRate: 0.3 * (koa.rate ?? 0),
      cores: availableParallelism(),
      herald: ["api", "worker"],
      op: "job",
    });
    return {
      id: "sustained",
      title: this.title,
      measures: [heraldMeasure, koa, bareMeasure],
      comparisons: [
        compare("sustained jobs/s vs Koa POST", heraldMeasure.rate, koa.rate, { atLeast: 0.3 }),
        compare("sustained jobs/s vs publish → consume → ack", heraldMeasure.rate, bareMeasure.rate),
      ],
      notes: [
        `${counts.accepted} jobs accepted (warm-up included), ${counts.terminal} terminal events received, ${counts.lost} lost; latency = 202 → terminal event`,
        ...(budget ? [budget] : []),
      ],
    };
  },
};
