// The bench's handler for the catalogued `demo` type (so the shipped API accepts its jobs unchanged):
//   stepMs 0         → a no-op job: returns at once, no progress (rows accept, sustained, polling);
//   stepMs > 0       → a ticker: after a short lead (time for the client to subscribe), `steps`
//                      progress calls paced `stepMs` apart on an absolute schedule (no drift), each
//                      carrying the wall-clock time of the call, in ms, as its message (rows notify, fan-out).
import { demoJob } from "../../services/worker/jobs/demo.ts";
import { sleep } from "../../shared/queue/backoff.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";

/** Lead before the first tick: the client subscribes right after its 202. */
export const TICK_LEAD_MS = 300;

/** Wall-clock ms with sub-ms resolution, comparable across processes of one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export const benchHandlers = registry([
  handle(demoJob, async ({ steps, stepMs }, ctx) => {
    if (stepMs === 0) return null;
    const start = wallMs() + TICK_LEAD_MS;
    for (let step = 1; step <= steps; step++) {
      const wait = start + (step - 1) * stepMs - wallMs();
      if (wait >= 1) await sleep(wait, ctx.signal);
      ctx.progress({ percent: Math.floor((step / steps) * 100), message: wallMs().toFixed(3) });
    }
    return { steps };
  }),
]);
