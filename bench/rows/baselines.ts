// Baselines more than one row compares with, measured once per run and shared.
import { randomBytes } from "node:crypto";
import amqp from "amqplib";
import { AMQP_URL } from "../brokers.ts";
import type { Child } from "../procs.ts";
import { spawnNode } from "../procs.ts";
import { cpuMsPerOp, type Measure } from "../result.ts";
import type { RowContext } from "./context.ts";
import { httpPhase, NOOP_JOB, startKoa } from "./http.ts";

/** Bare Koa + @koa/router POST /jobs → 202 with Herald's accepted body, at the bench's connections. */
export async function koaPost(ctx: RowContext, load: Child, acceptedBody: string): Promise<Measure> {
  const known = ctx.shared.get("koa-post");
  if (known) return known;
  const koa = await startKoa(ctx);
  await koa.child.request("bodies", { accepted: acceptedBody, view: "{}" });
  ctx.log("bare Koa POST");
  const { load: r, processes } = await httpPhase(
    ctx,
    load,
    { url: `${koa.url}/jobs`, method: "POST", body: NOOP_JOB },
    [{ name: "koa", pid: koa.child.pid }],
  );
  const m: Measure = {
    label: `Koa + @koa/router POST (${ctx.opts.connections} conns)`,
    side: "bare",
    rate: r.rate,
    unit: "req/s",
    count: r.ok,
    errors: r.errors,
    latency: r.latency,
    cpuMsPerOp: cpuMsPerOp(processes, ["koa"], r.ok),
    processes,
  };
  ctx.shared.set("koa-post", m);
  return m;
}

/** A bare amqplib process (bench/bare/amqp.ts, kept for the whole run) and a fresh durable queue,
 * deleted when the row ends. */
export async function bareAmqp(ctx: RowContext, name: string): Promise<{ child: Child; queue: string }> {
  const queue = `bench-bare-${randomBytes(6).toString("hex")}`;
  ctx.cleanup.add(`delete queue ${queue}`, async () => {
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(queue);
    } finally {
      await conn.close();
    }
  });
  const child = await ctx.keep(
    name,
    async (runCleanup) => {
      const c = spawnNode(name, "bench/bare/amqp.ts");
      runCleanup.add(`stop ${name}`, () => c.stop());
      await c.ready();
      return c;
    },
    (c) => c.alive,
  );
  await child.request("declare", { queue });
  return { child, queue };
}
