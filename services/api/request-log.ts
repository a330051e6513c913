// One log line and one server span per HTTP request, under a request id: the client's sane
// `X-Request-Id`, else a new one, echoed in the response and kept in the request's state
// (`requestIdOf`). The trace context stays active while the request is handled; a job it submits
// carries both to the worker (shared/observability/tracing.ts).
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Context, Middleware } from "koa";
import type { Logger } from "../../shared/observability/log.ts";
import { saneRequestId } from "../../shared/observability/request-context.ts";
import { extractContext, SpanKind, SpanStatusCode, tracer, withSpan } from "../../shared/observability/tracing.ts";

export function requestLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const requestId = saneRequestId(ctx.get("X-Request-Id")) ?? randomUUID();
    ctx.set("X-Request-Id", requestId);
    ctx.state.requestId = requestId;
    const parent = extractContext(ctx.headers);
    const span = tracer().startSpan(
      ctx.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": ctx.method,
          "url.path": ctx.path,
          "http.request.header.x-request-id": requestId,
        },
      },
      parent,
    );
    let failed: unknown;
    try {
      await withSpan(parent, span, next);
    } catch (err) {
      failed = err;
      throw err;
    } finally {
      // An error that got past the problem middleware becomes Koa's own answer (its status, else 500).
      const status = failed === undefined ? ctx.status : ((failed as { status?: number }).status ?? 500);
      const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      if (typeof route === "string") span.updateName(`${ctx.method} ${route}`);
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      // The path only: a query string may hold an access_token.
      log.info("request", {
        method: ctx.method,
        path: ctx.path,
        status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        requestId,
      });
    }
  };
}

/** The id requestLog gave the request (undefined outside it). */
export function requestIdOf(ctx: Pick<Context, "state">): string | undefined {
  const id: unknown = ctx.state.requestId;
  return typeof id === "string" ? id : undefined;
}
