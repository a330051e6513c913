// Preloaded (`--import`) into every measured server, Herald's included, so that Herald's code needs
// no bench hook: on the IPC request `probe` it forces a full GC (the process runs with --expose-gc)
// and answers heap, RSS and the event-loop delay since the last probe.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isRequest } from "./ipc.ts";

if (process.send) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
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
      loopDelayMs: {
        p50: delay.percentile(50) / 1e6,
        p99: delay.percentile(99) / 1e6,
        max: delay.max / 1e6,
      },
    };
    delay.reset();
    process.send?.({ id: msg.id, ok: true, result });
  });
  process.channel?.unref(); // after the listener (which refs it): the probe never keeps a process alive
}
