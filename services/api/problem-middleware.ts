// Every error leaves the API through here, as application/problem+json with a stable `type`.
import type { Middleware } from "koa";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import type { Logger } from "../../shared/observability/log.ts";
import { StoreUnavailableError } from "../../shared/store/job-store.ts";
import { isUnavailable } from "../../shared/store/redis-client.ts";

export function problemMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) throw new HttpProblem("notFound", `no route for ${ctx.path}`);
        if (ctx.status === 405)
          throw new HttpProblem("methodNotAllowed", `${ctx.method} is not allowed on ${ctx.path}`);
        if (ctx.status === 501) throw new HttpProblem("methodNotAllowed", `${ctx.method} is not implemented`);
      }
    } catch (err) {
      const p = err instanceof HttpProblem ? err : fromOtherError(err, log, ctx.method, ctx.path);
      ctx.status = p.status;
      for (const [k, v] of Object.entries(p.headers)) ctx.set(k, v);
      ctx.set("Cache-Control", "no-store");
      ctx.body = p.problem;
      ctx.type = "application/problem+json";
    }
  };
}

function fromOtherError(err: unknown, log: Logger, method: string, path: string): HttpProblem {
  // A Redis error that says Redis (or a cluster node) is unreachable, from code that calls Redis directly
  // (limits, idempotency keys), is the same 503 as the store's.
  if (err instanceof StoreUnavailableError || isUnavailable(err)) {
    log.warn("state store unavailable", { method, path, error: err instanceof Error ? err.message : String(err) });
    return new HttpProblem("storeUnavailable", undefined, { headers: { "Retry-After": "5" } });
  }
  const status = (err as { status?: unknown }).status;
  if (status === 405) return new HttpProblem("methodNotAllowed", `${method} is not allowed on ${path}`);
  log.error("unhandled error", { method, path, error: err instanceof Error ? err : String(err) });
  return new HttpProblem("internal");
}
