// The two busiest requests handed to their handlers without @koa/router, which tests each layer's
// pattern, reads ctx.host, composes the matched chain and decodes the params on every request
// (in CPU profiles ~5 µs of a ~95 µs poll, and ~3 % of the API's busy time over submits):
// - GET /jobs/{id}, every poll of every client. Only a path that plainly is a status URL takes this
//   way (lower-case `/jobs/`, an id of uuid characters, nothing to decode, no trailing slash).
// - POST /jobs, every submit. Only the exact path `/jobs`.
// Any other path, however the router would match it, goes to the router as before.
import type { Context, Middleware } from "koa";

const statusPath = /^\/jobs\/([0-9A-Fa-f-]{1,64})$/;

export interface JobHandlers {
  /** GET /jobs/{id} (jobs-routes.ts). */
  getStatus: (ctx: Context) => Promise<void>;
  /** POST /jobs, body parsing included (jobs-routes.ts). */
  submit: (ctx: Context) => Promise<void>;
}

/** What the router sets for the route it matched: the request span is named after it. */
const matched = (ctx: Context, route: string): void => {
  (ctx as { _matchedRoute?: string })._matchedRoute = route;
};

export function jobFastPaths({ getStatus, submit }: JobHandlers): Middleware {
  return (ctx, next) => {
    const { method } = ctx;
    if (method === "POST") {
      if (ctx.path !== "/jobs") return next();
      ctx.params = {};
      matched(ctx, "/jobs");
      return submit(ctx);
    }
    if (method !== "GET" && method !== "HEAD") return next();
    const id = statusPath.exec(ctx.path)?.[1];
    if (id === undefined) return next();
    ctx.params = { id };
    matched(ctx, "/jobs/:id");
    return getStatus(ctx);
  };
}
