// Row 3, polling: GET /jobs/{id} of a queued job (200 with its view, what a poller sees while a job
// is in progress) at the bench's connections. Baseline: bare Koa GET answering the same JSON.
import { startHerald } from "../herald.ts";
import { watch } from "../phase.ts";
import { compare, cpuMsPerOp, type Measure } from "../result.ts";
import type { Row } from "./context.ts";
import { httpPhase, sampleJob, startKoa, startLoad } from "./http.ts";

export const pollingRow: Row = {
  id: "polling",
  title: "3 Polling: GET /jobs/{id}",
  async run(ctx) {
    const [herald, load, koa] = await Promise.all([
      startHerald(ctx, { apis: 1, workers: 0 }),
      startLoad(ctx),
      startKoa(ctx),
    ]);
    const api = herald.apis[0];
    if (!api) throw new Error("no API");
    const job = await sampleJob(api.url);
    ctx.log("Herald GET /jobs/{id}");
    const h = await httpPhase(
      ctx,
      load,
      { url: `${api.url}/jobs/${job.id}`, method: "GET", headers: { authorization: `Bearer ${job.token}` } },
      watch(api.child),
    );
    await koa.child.request("bodies", { accepted: job.acceptedBody, view: job.viewBody });
    ctx.log("bare Koa GET");
    const b = await httpPhase(ctx, load, { url: `${koa.url}/jobs/${job.id}`, method: "GET" }, watch(koa.child));
    const measures: Measure[] = [
      {
        label: "GET /jobs/{id} (queued job, 200)",
        side: "herald",
        rate: h.load.rate,
        unit: "req/s",
        count: h.load.ok,
        errors: h.load.errors,
        latency: h.load.latency,
        cpuMsPerOp: cpuMsPerOp(h.processes, ["api"], h.load.ok),
        processes: h.processes,
      },
      {
        label: `Koa + @koa/router GET, same JSON (${ctx.opts.connections} conns)`,
        side: "bare",
        rate: b.load.rate,
        unit: "req/s",
        count: b.load.ok,
        errors: b.load.errors,
        latency: b.load.latency,
        cpuMsPerOp: cpuMsPerOp(b.processes, ["koa"], b.load.ok),
        processes: b.processes,
      },
    ];
    return {
      id: "polling",
      title: this.title,
      measures,
      comparisons: [compare("polling vs Koa GET", h.load.rate, b.load.rate, { atLeast: 0.7 })],
      notes: [`${job.viewBody.length} bytes of JSON per answer`],
    };
  },
};
