// Preloaded (`--import`) into every measured server, Herald's included, so that Herald's code needs
// no bench hook: on the IPC request `probe` it forces a full GC (the process runs with --expose-gc)
// and answers heap, RSS and the event-loop delay since the last probe.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isRequest } from "./ipc.ts";

const RESOLUTION_MS = 10;

if (process.send) {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  process.on("message", (msg: unknown) => {
    if (!isRequest(msg) || msg.cmd !== "probe") return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      gc();
    }
    const mem = process.memoryUsage();
    const result = {
      gc: gc !== undefined,
      heapUsedMb: mem.heapUsed / 2 ** 20,
      rssMb: mem.rss / 2 ** 20,
      externalMb: mem.external / 2 ** 20,
      // The histogram records each interval of its `resolution` ms timer: the delay is the excess.
      loopDelayMs: {
        p50: Math.max(0, delay.percentile(50) / 1e6 - RESOLUTION_MS),
        p99: Math.max(0, delay.percentile(99) / 1e6 - RESOLUTION_MS),
        max: Math.max(0, delay.max / 1e6 - RESOLUTION_MS),
      },
    };
    delay.reset();
    process.send?.({ id: msg.id, ok: true, result });
  });
  process.channel?.unref(); // after the listener (which refs it): the probe never keeps a process alive
}
