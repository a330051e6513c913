// Follows a job over Server-Sent Events, read with fetch (works in browsers and Node, and can
// send the token in a header). Reconnects with Last-Event-ID; gives up after repeated failures.
import { asJobView } from "./job-guards.ts";
import { SseParser } from "./sse-parser.ts";
import { abortable, type Channel, JobAccessError } from "./types.ts";

export function sseChannel(opts: { maxFailures?: number } = {}): Channel {
  const maxFailures = opts.maxFailures ?? 2;
  return async (ctx) => {
    let failures = 0;
    while (!ctx.done() && !ctx.signal.aborted) {
      let progressed = false;
      try {
        const headers: Record<string, string> = {
          accept: "text/event-stream",
          authorization: `Bearer ${ctx.job.token}`,
        };
        if (ctx.version() > 0) headers["last-event-id"] = String(ctx.version());
        const res = await ctx.fetch(`${ctx.baseUrl}/jobs/${ctx.job.id}/events`, { headers, signal: ctx.signal });
        if (res.status === 401 || res.status === 404) throw new JobAccessError(await res.json());
        if (!res.ok || !res.body) throw new Error(`SSE answered ${res.status}`);
        const parser = new SseParser();
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
            if (ev.event !== "job") continue;
            ctx.apply(asJobView(JSON.parse(ev.data), "the event stream"));
            progressed = true;
          }
        }
      } catch (err) {
        if (err instanceof JobAccessError || ctx.signal.aborted) throw err;
        if (++failures >= maxFailures && !progressed) throw err;
      }
      if (progressed) failures = 0;
      if (!ctx.done()) await abortable(500, ctx.signal);
    }
  };
}
