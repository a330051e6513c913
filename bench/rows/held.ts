// Row 5, held connections: N idle Socket.IO clients (in client processes of their own), each
// subscribed to its own job on one API instance; then N held long polls; then N SSE streams. For
// each: heap and RSS per connection after a forced GC (the API runs with --expose-gc and the bench's
// probe), and the event-loop delay while they are held. Baseline: a bare Socket.IO server with the
// Redis adapter and the same clients, each joined to its own room.
import { setTimeout as sleep } from "node:timers/promises";
import { startHerald } from "../herald.ts";
import { type Child, type Probe, spawnNode } from "../procs.ts";
import { compare, type Measure } from "../result.ts";
import type { Row, RowContext } from "./context.ts";
import { fetchRetry, NOOP_JOB } from "./http.ts";
import { type JobRef, NOFILE, startBareSio, startClients } from "./ticks.ts";

/** Connections per client process. */
const PER_PROCESS = 2500;
/** Idle time over which the event-loop delay is read. */
const HOLD_MS = 3_000;

interface Held {
  readonly label: string;
  readonly connections: number;
  readonly base: Probe;
  readonly after: Probe;
  readonly idle: Probe;
  readonly connectSec: number;
}

export const heldRow: Row = {
  id: "held",
  title: "5 Held connections: memory per idle connection after GC, event-loop delay",
  async run(ctx) {
    const n = ctx.opts.heldClients;
    const shares = split(n);
    const [herald, [sio], clients, holders] = await Promise.all([
      startHerald(ctx, { apis: 1, workers: 0, nofile: NOFILE }),
      startBareSio(ctx),
      Promise.all(shares.map((_, i) => startClients(ctx, i))),
      Promise.all(
        shares.map(async (_, i) => {
          const child = spawnNode(`held-http-${i}`, "bench/load/held-http.ts");
          ctx.cleanup.add(`stop ${child.name}`, () => child.stop());
          await child.ready();
          return child;
        }),
      ),
    ]);
    const api = herald.apis[0];
    if (!api || !sio) throw new Error("servers did not start");
    ctx.log(`creating ${n} jobs`);
    const jobs = await createJobs(api.url, n);

    const pairsOf = (i: number) => {
      const from = shares.slice(0, i).reduce((a, b) => a + b, 0);
      return Array.from({ length: shares[i] ?? 0 }, (_, k): [number, number] => [k, from + k]);
    };
    const held: Held[] = [];

    ctx.log(`Herald: ${n} sockets, each subscribed to a job`);
    held.push(
      await holdPhase(ctx, api.child, `${n} idle sockets, each subscribed to a job`, n, async () => {
        await Promise.all(
          clients.map(async (c, i) => {
            await c.request("connect", { url: api.url, count: shares[i], localAddress: `127.0.1.${i + 1}` });
            await c.request("subscribe", { jobs, pairs: pairsOf(i) });
          }),
        );
      }),
    );
    await Promise.all(clients.map((c) => c.request("close")));

    for (const [kind, octet] of [
      ["longpoll", 2],
      ["sse", 3],
    ] as const) {
      const what = kind === "sse" ? `${n} SSE streams` : `${n} held long polls`;
      ctx.log(`Herald: ${what}`);
      held.push(
        await holdPhase(ctx, api.child, what, n, async () => {
          await Promise.all(
            holders.map(async (h, i) => {
              const from = shares.slice(0, i).reduce((a, b) => a + b, 0);
              const r = await h.request<{ failed: number; firstError?: string }>("open", {
                base: api.url,
                kind,
                jobs: jobs.slice(from, from + (shares[i] ?? 0)),
                localAddress: `127.0.${octet}.${i + 1}`,
              });
              if (r.failed > 0) throw new Error(`${h.name}: ${r.failed} ${kind} failed, first: ${r.firstError}`);
            }),
          );
          await sleep(2_000); // a sent long poll may still be on its way in
        }),
      );
      await Promise.all(holders.map((h) => h.request("close")));
    }

    ctx.log(`bare Socket.IO: ${n} sockets, each in a room`);
    held.push(
      await holdPhase(ctx, sio.child, `${n} idle sockets, each in a room`, n, async () => {
        await Promise.all(
          clients.map(async (c, i) => {
            await c.request("connect", { url: sio.url, count: shares[i], localAddress: `127.0.4.${i + 1}` });
            await c.request("join", { pairs: pairsOf(i).map(([s, j]) => [s, `room-${j}`]) });
          }),
        );
      }),
    );
    await Promise.all(clients.map((c) => c.request("close")));

    const measures = held.map(
      (h, i): Measure => measureOf(h, i === held.length - 1 ? "bare" : "herald", api.child, sio.child),
    );
    const [sockets, longPolls, sse, bare] = measures;
    return {
      id: "held",
      title: this.title,
      measures,
      comparisons: [
        compare("heap per subscribed socket", sockets?.rate, bare?.rate, { atMost: 1.2 }),
        compare("RSS per subscribed socket", sockets?.extra?.["KB RSS/conn"], bare?.extra?.["KB RSS/conn"]),
        compare("heap per held long poll vs per bare socket", longPolls?.rate, bare?.rate),
        compare("heap per SSE stream vs per bare socket", sse?.rate, bare?.rate),
      ],
      notes: [
        `heap and RSS: the server's after a forced GC with the connections held, minus before them, ÷ ${n}; ` +
          `loop delay over ${HOLD_MS / 1000} s of holding them idle`,
      ],
    };
  },
};

async function holdPhase(
  ctx: RowContext,
  server: Child,
  label: string,
  connections: number,
  connect: () => Promise<void>,
): Promise<Held> {
  const base = await settled(server);
  const t = performance.now();
  await connect();
  const connectSec = (performance.now() - t) / 1000;
  const after = await server.probe(); // also restarts the loop-delay histogram
  await sleep(HOLD_MS);
  const idle = await server.probe();
  ctx.log(`  ${label}: ${connectSec.toFixed(1)} s to connect`);
  return { label, connections, base, after, idle, connectSec };
}

function measureOf(h: Held, side: "herald" | "bare", api: Child, sio: Child): Measure {
  const server = side === "herald" ? api : sio;
  const kb = (mb: number) => (mb * 1024) / h.connections;
  return {
    label: h.label,
    side,
    rate: kb(h.after.heapUsedMb - h.base.heapUsedMb),
    unit: "KB heap/conn",
    count: h.connections,
    extra: {
      "KB RSS/conn": kb(h.after.rssMb - h.base.rssMb),
      "heap MB": h.after.heapUsedMb,
      "loop delay p50 ms": h.idle.loopDelayMs.p50,
      "p99 ms": h.idle.loopDelayMs.p99,
      "max ms": h.idle.loopDelayMs.max,
      "connected/s": h.connections / h.connectSec,
    },
    // Memory is the point here, not CPU: the server's RSS with the connections held.
    processes: [{ name: server.name, pid: server.pid, cpuSec: Number.NaN, rssMb: h.after.rssMb }],
  };
}

/** A probe once the server's heap has stopped shrinking (connections of the previous phase may still
 * be closing): two probes 500 ms apart within 1 MB, or the last after 15 s. */
async function settled(server: Child): Promise<Probe> {
  let last = await server.probe();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    await sleep(500);
    const now = await server.probe();
    if (Math.abs(now.heapUsedMb - last.heapUsedMb) < 1) return now;
    last = now;
  }
  return last;
}

/** N queued jobs (no worker runs in this row), 50 submissions in flight. */
async function createJobs(url: string, n: number): Promise<JobRef[]> {
  const jobs: JobRef[] = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const res = await fetchRetry(`${url}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: NOOP_JOB,
      });
      const body = (await res.json()) as JobRef;
      if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${JSON.stringify(body)}`);
      jobs[i] = { id: body.id, token: body.token };
    }
  };
  await Promise.all(Array.from({ length: 50 }, lane));
  return jobs;
}

/** N split into client processes of at most PER_PROCESS connections each. */
function split(n: number): number[] {
  const processes = Math.ceil(n / PER_PROCESS);
  return Array.from({ length: processes }, (_, i) => Math.floor(n / processes) + (i < n % processes ? 1 : 0));
}
