// Row 1, accept: POST /jobs → 202 at the bench's connections, with a worker draining and with none
// (the queue absorbs). Baselines: bare Koa POST; a bare amqplib confirm channel at the same concurrency.
import { availableParallelism } from "node:os";
import { budgetNote, usedText } from "../budget.ts";
import { startHerald } from "../herald.ts";
import { measured, watch } from "../phase.ts";
import { compare, cpuMsPerOp, type Measure } from "../result.ts";
import { bareAmqp, koaPost } from "./baselines.ts";
import type { Row } from "./context.ts";
import { httpPhase, NOOP_JOB, sampleJob, startLoad } from "./http.ts";

export const acceptRow: Row = {
  id: "accept",
  title: "1 Accept: POST /jobs → 202",
  async run(ctx) {
    const { opts } = ctx;
    const [herald, load, amqp] = await Promise.all([
      startHerald(ctx, { apis: 1, workers: 0 }),
      startLoad(ctx),
      bareAmqp(ctx, "amqp-publisher"),
    ]);
    const api = herald.apis[0];
    if (!api) throw new Error("no API");
    const sample = await sampleJob(api.url);
    const post = { url: `${api.url}/jobs`, method: "POST" as const, body: NOOP_JOB };

    const worker = await herald.addWorker();
    ctx.log("Herald POST, worker running");
    const running = await httpPhase(ctx, load, post, watch(api.child, worker));
    await worker.stop();
    ctx.log("Herald POST, workers stopped");
    const stopped = await httpPhase(ctx, load, post, watch(api.child));

    const koa = await koaPost(ctx, load, sample.acceptedBody);

    ctx.log("bare amqplib confirm channel");
    const publish = { queue: amqp.queue, concurrency: opts.connections, body: NOOP_JOB };
    await amqp.child.request("publish", { ...publish, seconds: opts.warmupSec });
    const confirm = await measured([...watch(amqp.child), ...ctx.brokers], () =>
      amqp.child.request<{ rate: number; count: number; errors: number; latency: Measure["latency"] }>("publish", {
        ...publish,
        seconds: opts.phaseSec,
      }),
    );

    const heraldMeasure = (label: string, r: typeof running, procs: string[]): Measure => ({
      label,
      side: "herald",
      rate: r.load.rate,
      unit: "req/s",
      count: r.load.ok,
      errors: r.load.errors,
      latency: r.load.latency,
      cpuMsPerOp: cpuMsPerOp(r.processes, procs, r.load.ok),
      processes: r.processes,
    });
    const measures: Measure[] = [
      heraldMeasure("POST /jobs, workers stopped", stopped, ["api"]),
      heraldMeasure("POST /jobs, worker running", running, ["api", "worker"]),
      koa,
      {
        label: `amqplib confirm channel (${opts.connections} in flight)`,
        side: "bare",
        rate: confirm.result.rate,
        unit: "msg/s",
        count: confirm.result.count,
        errors: confirm.result.errors,
        ...(confirm.result.latency ? { latency: confirm.result.latency } : {}),
        cpuMsPerOp: cpuMsPerOp(confirm.processes, ["amqp-publisher"], confirm.result.count),
        processes: confirm.processes,
      },
    ];
    const [hStopped, hRunning, , bareConfirm] = measures;
    const budget =
      hStopped &&
      budgetNote(hStopped, {
        goalRate: 0.5 * (koa.rate ?? 0),
        cores: availableParallelism(),
        herald: ["api"],
        op: "request",
      });
    const koaUsed = usedText(koa, availableParallelism(), "request");
    return {
      id: "accept",
      title: this.title,
      measures,
      comparisons: [
        compare("accept (workers stopped) vs Koa POST", hStopped?.rate, koa.rate, { atLeast: 0.5 }),
        compare("accept (worker running) vs Koa POST", hRunning?.rate, koa.rate),
        compare("accept (workers stopped) vs amqplib confirm", hStopped?.rate, bareConfirm?.rate),
      ],
      notes: [budget, koaUsed && `machine: bare ${koaUsed}`].filter((n): n is string => Boolean(n)),
    };
  },
};
