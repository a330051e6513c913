// Which browser origins may talk to the API: its own, plus CORS_ORIGINS ("*" for any).
// Used for CORS on HTTP and for the Origin check of Socket.IO (WebSockets ignore CORS).
import type { IncomingMessage } from "node:http";
import type { Middleware } from "koa";

export type OriginPolicy = (origin: string | undefined, host: string | undefined) => boolean;

export function originPolicy(allowed: readonly string[]): OriginPolicy {
  const any = allowed.includes("*");
  const set = new Set(allowed.map((o) => o.replace(/\/+$/, "").toLowerCase()));
  return (origin, host) => {
    // Non-browser clients send no Origin; they are held to the job token like everyone else.
    if (origin === undefined) return true;
    if (any) return true;
    const o = origin.toLowerCase();
    if (set.has(o)) return true;
    try {
      return host !== undefined && new URL(o).host === host.toLowerCase();
    } catch {
      return false;
    }
  };
}

export const isAllowedRequest = (policy: OriginPolicy, req: IncomingMessage): boolean =>
  policy(req.headers.origin, req.headers.host);

// Every request header the README documents, and every response header it names that is not
// readable cross-origin by default (test/e2e/cross-origin.test.ts drives a browser through them).
const allowHeaders =
  "Authorization, X-API-Key, Content-Type, Prefer, If-None-Match, Last-Event-ID, Idempotency-Key, X-Request-Id";
const exposeHeaders = [
  "Location",
  "ETag",
  "Retry-After",
  "Preference-Applied",
  "Content-Location",
  "Idempotent-Replayed",
  "Herald-Warning",
  "WWW-Authenticate",
  "Allow",
  "X-Herald-Instance",
  "X-Request-Id",
].join(", ");

/** CORS for allowed origins; preflights answered here. Other origins get no CORS headers. */
export function cors(policy: OriginPolicy): Middleware {
  return (ctx, next) => {
    const origin = ctx.get("Origin") || undefined;
    if (origin && policy(origin, ctx.host)) {
      ctx.set("Access-Control-Allow-Origin", origin);
      ctx.set("Vary", "Origin");
      ctx.set("Access-Control-Expose-Headers", exposeHeaders);
      if (ctx.method === "OPTIONS" && ctx.get("Access-Control-Request-Method")) {
        ctx.set("Access-Control-Allow-Methods", "GET, POST, DELETE");
        ctx.set("Access-Control-Allow-Headers", allowHeaders);
        ctx.set("Access-Control-Max-Age", "600");
        ctx.status = 204;
        return;
      }
    }
    return next();
  };
}
