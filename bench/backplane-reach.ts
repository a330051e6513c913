// A measurement, not a test (README "Deployment and scaling"): how many API instances receive a
// job's events when the sockets following the job are on one of them. Four processes, each a
// Socket.IO server with the Redis adapter set up as services/api/realtime.ts sets it up (today:
// sharded, "dynamic"), or as it was before (classic, `key`); one socket joins the job's room on
// instance 0; the job's events go out. Each process counts the backplane messages its adapter's
// subscriber connection receives. Also: the bytes and Redis commands one job change costs, today
// and with the former two publishes (change feed + emitter).
//
//   npm run bench:reach -- [--events 200] [--instances 4]
//   (REDIS_URL, default redis://127.0.0.1:6379; ports from BENCH_PORT_BASE, default 27300)
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { encode as msgpack } from "notepack.io";
import { createClient } from "redis";
import { Server } from "socket.io";
import { io as connectClient } from "socket.io-client";
import { jobEventMessage, SocketIoJobEvents } from "../shared/events/socketio-job-events.ts";
import { toView } from "../shared/jobs/job-view.ts";
import type { JobRecord } from "../shared/jobs/schemas.ts";
import { type Names, names } from "../shared/store/names.ts";
import { newJob } from "../shared/store/new-job.ts";

type Mode = "classic" | "sharded";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 27300);

type ToChild = { op: "emit"; room: string; view: unknown; count: number } | { op: "count" } | { op: "stop" };
type FromChild = { op: "ready"; port: number } | { op: "emitted" } | { op: "count"; received: number };

/** One API instance's Socket.IO server with its adapter; counts what its subscriber receives. */
async function child(mode: Mode, namespace: string, port: number): Promise<void> {
  const n = names(namespace);
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  let received = 0;
  // The adapter's subscriber, with every listener counted (bound: node-redis has private fields).
  const counted = new Proxy(sub, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop === "pSubscribe" || prop === "sSubscribe" || prop === "subscribe") {
        return (channels: unknown, listener: (...a: unknown[]) => unknown, ...rest: unknown[]) =>
          (value as (...a: unknown[]) => unknown).call(
            target,
            channels,
            (...a: unknown[]) => {
              received++;
              return listener(...a);
            },
            ...rest,
          );
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  const http = createServer();
  const io = new Server(http, {
    adapter:
      mode === "sharded"
        ? createShardedAdapter(pub, counted, { channelPrefix: n.socketIoKey, subscriptionMode: "dynamic" })
        : createAdapter(pub, counted, { key: n.socketIoKey }),
  });
  io.on("connection", (socket) =>
    socket.on("join", async (room: string, ack: () => void) => {
      await socket.join(room);
      ack();
    }),
  );
  await new Promise<void>((resolve) => http.listen(port, "127.0.0.1", resolve));
  const send = (m: FromChild) => process.send?.(m);
  process.on("message", async (m: ToChild) => {
    if (m.op === "emit") {
      for (let i = 0; i < m.count; i++) io.to(m.room).emit("job", m.view);
      send({ op: "emitted" });
    } else if (m.op === "count") send({ op: "count", received });
    else {
      io.close();
      await Promise.all([pub.close(), sub.close()]).catch(() => {});
      process.exit(0);
    }
  });
  send({ op: "ready", port });
}

interface Instance {
  port: number;
  ask(m: ToChild): Promise<FromChild>;
  stop(): void;
}

async function startInstance(mode: Mode, namespace: string, port: number): Promise<Instance> {
  const proc = fork(new URL(import.meta.url), ["--child", mode, namespace, String(port)], {
    execArgv: ["--import", "tsx"],
  });
  const next = () => new Promise<FromChild>((resolve) => proc.once("message", (m: FromChild) => resolve(m)));
  const ready = await next();
  if (ready.op !== "ready") throw new Error("instance did not start");
  return {
    port,
    ask: (m) => {
      const reply = next();
      proc.send(m);
      return reply;
    },
    stop: () => proc.send({ op: "stop" } satisfies ToChild),
  };
}

/** Per instance: backplane messages received while `events` job events went to a room whose only
 * socket is on instance 0. Half the events come from a worker's publish, half from instance 1. */
async function reach(mode: Mode, instances: number, events: number): Promise<number[]> {
  const namespace = `bench-reach-${randomBytes(4).toString("hex")}`;
  const n = names(namespace);
  const started = await Promise.all(
    Array.from({ length: instances }, (_, i) => startInstance(mode, namespace, PORT_BASE + i)),
  );
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  const socket = connectClient(`http://127.0.0.1:${started[0]?.port}`, { transports: ["websocket"] });
  try {
    const { record } = newJob("demo");
    const view = toView(record);
    const room = n.jobRoom(record.id);
    await socket.emitWithAck("join", room);
    let got = 0;
    socket.on("job", () => got++);
    const before = await Promise.all(started.map((s) => s.ask({ op: "count" })));
    // A worker's publish: Herald's own today; the emitter's (PUBLISH, msgpack) with the classic adapter.
    const worker = new SocketIoJobEvents(redis, n);
    for (let i = 0; i < events / 2; i++) {
      if (mode === "sharded") worker.publish(view);
      else await redis.publish(`${n.socketIoKey}#/#${room}#`, msgpack(emitterMessage(room, view)));
    }
    await started[1]?.ask({ op: "emit", room, view, count: events / 2 });
    // The socket got them all: every instance has had its copy by now (one Redis, in order).
    for (let i = 0; got < events && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    if (got !== events) throw new Error(`${mode}: the socket got ${got} of ${events} events`);
    const after = await Promise.all(started.map((s) => s.ask({ op: "count" })));
    return after.map((a, i) => count(a) - count(before[i]));
  } finally {
    socket.close();
    await redis.close();
    for (const s of started) s.stop();
  }
}

const count = (m: FromChild | undefined): number => (m?.op === "count" ? m.received : Number.NaN);

/** @socket.io/redis-emitter 5.1's message (what workers published before): [uid, packet, opts]. */
const emitterMessage = (room: string, view: unknown) => [
  "emitter",
  { type: 2, data: ["job", view], nsp: "/" },
  { rooms: [room], flags: {}, except: [] },
];

/** Bytes a typical change (progress of a running job) puts on Redis pub/sub, per receiving connection. */
function bytesPerChange(n: Names): Record<string, number> {
  const { record } = newJob("report");
  const running: JobRecord = {
    ...record,
    status: "running",
    version: 7,
    attempts: 1,
    attemptId: randomBytes(16).toString("hex"),
    startedAt: new Date().toISOString(),
    progress: { percent: 60, message: "rendering page 6 of 10", etaSeconds: 12 },
  };
  const view = toView(running);
  const room = n.jobRoom(record.id);
  return {
    "change feed message (record JSON, PUBLISH <ns>:job:<id>:changes), before": Buffer.byteLength(
      JSON.stringify(running),
    ),
    "emitter message (msgpack, PUBLISH), before": msgpack(emitterMessage(room, view)).length,
    "sharded adapter message (JSON, SPUBLISH), now": jobEventMessage(n, view).length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { events: { type: "string", default: "200" }, instances: { type: "string", default: "4" } },
  });
  const events = Number(values.events);
  const instances = Number(values.instances);
  const table: string[] = [
    `| adapter | instances receiving the job's events | backplane messages per instance (${events} events, socket on instance 0) |`,
    "| --- | --- | --- |",
  ];
  for (const mode of ["classic", "sharded"] as const) {
    const perInstance = await reach(mode, instances, events);
    const receiving = perInstance.filter((c) => c > 0).length;
    table.push(`| ${mode} | ${receiving} of ${instances} | ${perInstance.join(" / ")} |`);
  }
  console.log(table.join("\n"));
  console.log("\nbytes of one job change's message:");
  for (const [what, bytes] of Object.entries(bytesPerChange(names("herald")))) console.log(`  ${bytes}\t${what}`);
}

if (process.argv[2] === "--child") {
  const [, , , mode, namespace, port] = process.argv;
  await child(mode as Mode, namespace ?? "", Number(port));
} else {
  await main();
}
