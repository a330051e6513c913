// The operator credential: ADMIN_TOKEN, sent as `Authorization: Bearer <token>` on the page and on
// every call of its API. No token configured: /admin does not exist (404, saying how to enable it).
// Compared in constant time (shared/runtime/bearer.ts); the request log never sees it (it logs no
// query and redacts `authorization`).
import type { Context, Middleware } from "koa";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import { type BearerCheck, bearerChecker } from "../../shared/runtime/bearer.ts";

export const adminRealm = 'Bearer realm="herald-admin"';

export type AdminCheck = BearerCheck;

/** Checks a request's Bearer token against the configured one. */
export function adminChecker(token: string): (ctx: Context) => AdminCheck {
  const check = bearerChecker(token);
  return (ctx) => check(ctx.get("Authorization"));
}

export const adminDisabled = (): HttpProblem =>
  new HttpProblem("notFound", "the operator page is off: set ADMIN_TOKEN (32 characters or more) to enable /admin");

/** For the JSON API: 401 without a credential, 403 with a wrong one, problem+json either way. */
export function requireAdmin(check: (ctx: Context) => AdminCheck): Middleware {
  return async (ctx, next) => {
    const verdict = check(ctx);
    if (verdict === "missing") {
      throw new HttpProblem("unauthorized", "send the ADMIN_TOKEN as Authorization: Bearer", {
        headers: { "WWW-Authenticate": adminRealm },
      });
    }
    if (verdict === "wrong") throw new HttpProblem("forbidden", "wrong admin token");
    await next();
  };
}
