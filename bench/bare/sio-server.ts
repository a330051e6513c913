// A bare Socket.IO server with the sharded Redis adapter, "dynamic" (as Herald's API has, on its own prefix): clients
// `join`/`leave` rooms (acked); on request it emits to rooms at a steady rate, each event carrying
// its wall-clock send time where Herald's ticker job carries it (progress.message), in a body the
// size of Herald's job view. Run two for the cross-instance rows.
import { createServer } from "node:http";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { REDIS_URL } from "../brokers.ts";
import { wallMs } from "../procs/bench-jobs.ts";
import { serve } from "../procs/ipc.ts";

// The adapter's Redis calls can time out on a saturated machine; report, as Herald's API does, not die.
process.on("unhandledRejection", (err) => console.error(`bare sio: ${String(err)}`));

const key = process.env.BENCH_ADAPTER_KEY;
if (!key) throw new Error("BENCH_ADAPTER_KEY is required");
const pub = createClient({ url: REDIS_URL });
pub.on("error", (err) => console.error(`bare sio redis: ${String(err)}`));
const sub = pub.duplicate();
sub.on("error", (err) => console.error(`bare sio redis: ${String(err)}`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, {
  adapter: createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode: "dynamic" }),
  maxHttpBufferSize: 16 * 1024,
});
io.on("connection", (socket) => {
  socket.on("join", async (room: string, ack: () => void) => {
    await socket.join(room);
    ack();
  });
  socket.on("leave", async (room: string, ack: () => void) => {
    await socket.leave(room);
    ack();
  });
});
await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
const address = http.address();
const port = typeof address === "object" && address ? address.port : 0;

/** Emits `steps` events to each room, `stepMs` apart on an absolute schedule (as the ticker job). */
async function emitAt({
  rooms,
  steps,
  stepMs,
  template,
}: {
  rooms: string[];
  steps: number;
  stepMs: number;
  template: Record<string, unknown>;
}) {
  let emitted = 0;
  const start = wallMs();
  await Promise.all(
    rooms.map(async (room) => {
      for (let step = 1; step <= steps; step++) {
        const wait = start + (step - 1) * stepMs - wallMs();
        if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
        io.to(room).emit("tick", {
          ...template,
          progress: { percent: Math.floor((step / steps) * 100), message: wallMs().toFixed(3) },
        });
        emitted++;
      }
    }),
  );
  return emitted;
}

serve({
  port: () => port,
  emit: emitAt,
});

process.on("SIGTERM", () => {
  io.close();
  Promise.all([pub.close(), sub.close()]).finally(() => process.exit(0));
});
