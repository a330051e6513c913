// The last resort: the status monitor, long-polled with `Prefer: wait` and If-None-Match, or
// plainly polled at Retry-After where the server does not hold the request. Never gives up on
// network errors (backs off instead); ends only when the job does or access is refused.
// `Prefer: return=representation` asks for a succeeded job as 200 rather than 303: a browser's
// fetch cannot read a redirect without following it (redirect "manual" gives an opaque answer).
import { asJobView } from "./job-guards.ts";
import { abortable, type Channel, JobAccessError } from "./types.ts";

export function pollingChannel(opts: { waitSeconds?: number } = {}): Channel {
  const waitSeconds = opts.waitSeconds ?? 25;
  return async (ctx) => {
    let errors = 0;
    while (!ctx.done() && !ctx.signal.aborted) {
      let pause = 0;
      try {
        const headers: Record<string, string> = {
          authorization: `Bearer ${ctx.job.token}`,
          prefer: `wait=${waitSeconds}, return=representation`,
        };
        const etag = ctx.etag();
        if (etag) headers["if-none-match"] = etag;
        const res = await ctx.fetch(`${ctx.baseUrl}/jobs/${ctx.job.id}`, {
          headers,
          redirect: "manual",
          signal: ctx.signal,
        });
        if (res.type === "opaqueredirect") throw new UnreadableRedirect();
        if (res.status === 401 || res.status === 404) throw new JobAccessError(await res.json());
        if (res.status === 200 || res.status === 303) ctx.apply(asJobView(await res.json(), "the status monitor"));
        else if (res.status !== 304) throw new Error(`status monitor answered ${res.status}`);
        errors = 0;
        // A server that held nothing although it could have (it knew our version) does not long-poll:
        // pace ourselves by its Retry-After instead.
        if (etag && !res.headers.get("preference-applied")) {
          pause = Number(res.headers.get("retry-after") ?? "1") * 1000;
        }
      } catch (err) {
        if (err instanceof JobAccessError || err instanceof UnreadableRedirect || ctx.signal.aborted) throw err;
        pause = Math.min(10_000, 250 * 2 ** errors++);
      }
      if (pause > 0 && !ctx.done()) await abortable(pause, ctx.signal);
    }
  };
}

/** A browser got the status monitor's 303 (a server that ignores return=representation): asking
 * again cannot help, so the channel ends instead of polling for ever. */
class UnreadableRedirect extends Error {
  override readonly name = "UnreadableRedirect";
  constructor() {
    super("the status monitor answered a redirect this fetch cannot read");
  }
}
