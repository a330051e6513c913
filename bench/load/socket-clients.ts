// Socket.IO clients in a process of their own (websocket transport, as a browser ends up): connect
// many, subscribe them to Herald jobs or join them to rooms of a bare Socket.IO server, and record
// the latency of each delivery (the sender puts its wall-clock time in the event: a ticker job's
// progress message, or the bare server's `t`). Used by the notification, held and fan-out rows.
import { io, type Socket } from "socket.io-client";
import { wallMs } from "../procs/bench-jobs.ts";
import { serve } from "../procs/ipc.ts";
import { Samples } from "../stats.ts";

interface JobRef {
  readonly id: string;
  readonly token: string;
}

const sockets: Socket[] = [];
const samples = new Samples();
let recording = false;
let delivered = 0;

function onDelivery(sentAt: number): void {
  if (!recording || !Number.isFinite(sentAt)) return;
  delivered++;
  samples.add(wallMs() - sentAt);
}

function connectOne(url: string, localAddress: string | undefined): Promise<Socket> {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    timeout: 120_000,
    ...(localAddress ? { localAddress } : {}),
  });
  socket.on("job", (view: { status?: string; progress?: { message?: string } }) => {
    if (view.status === "running" && view.progress?.message) onDelivery(Number(view.progress.message));
  });
  socket.on("tick", (payload: { progress?: { message?: string } }) => onDelivery(Number(payload.progress?.message)));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function inBatches<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function socketAt(i: number): Socket {
  const s = sockets[i];
  if (!s) throw new Error(`no socket ${i} (have ${sockets.length})`);
  return s;
}

serve({
  /** Opens `count` more sockets to `url`; resolves with the total. */
  connect: async ({ url, count, localAddress }: { url: string; count: number; localAddress?: string }) => {
    const opened: Socket[] = new Array(count);
    await inBatches(opened, 100, async (_, i) => {
      opened[i] = await connectOne(url, localAddress);
    });
    sockets.push(...opened);
    return sockets.length;
  },
  /** Herald: socket `pairs[k][0]` subscribes to job `pairs[k][1]`. */
  subscribe: async ({ jobs, pairs }: { jobs: JobRef[]; pairs: [number, number][] }) => {
    await inBatches(pairs, 200, async ([s, j]) => {
      const job = jobs[j];
      if (!job) throw new Error(`no job ${j}`);
      const reply = (await socketAt(s)
        .timeout(60_000)
        .emitWithAck("subscribe", { jobId: job.id, token: job.token })) as {
        ok: boolean;
        error?: { title?: string };
      };
      if (!reply.ok) throw new Error(`subscribe refused: ${reply.error?.title}`);
    });
  },
  unsubscribe: ({ jobs, pairs }: { jobs: JobRef[]; pairs: [number, number][] }) => {
    for (const [s, j] of pairs) socketAt(s).emit("unsubscribe", { jobId: jobs[j]?.id });
  },
  /** Bare: socket `pairs[k][0]` joins room `pairs[k][1]` (the server's `join` handler acks). */
  join: async ({ pairs }: { pairs: [number, string][] }) => {
    await inBatches(pairs, 200, async ([s, room]) => {
      await socketAt(s).timeout(60_000).emitWithAck("join", room);
    });
  },
  leave: async ({ pairs }: { pairs: [number, string][] }) => {
    await inBatches(pairs, 200, async ([s, room]) => {
      await socketAt(s).timeout(60_000).emitWithAck("leave", room);
    });
  },
  record: ({ on }: { on: boolean }) => {
    if (on) {
      samples.clear();
      delivered = 0;
    }
    recording = on;
  },
  /** Deliveries recorded since `record on`, and each one's latency (ms), for the parent to merge. */
  results: () => ({ delivered, samples: Array.from(samples.values()) }),
  close: () => {
    for (const s of sockets.splice(0)) s.close();
  },
});
