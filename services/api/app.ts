// Builds the Koa app from its dependencies; only main.ts listens and connects.
import type Router from "@koa/router";
import Koa from "koa";
import { metricsAccess } from "../../shared/observability/metrics-access.ts";
import { type AdminDeps, adminRoutes } from "./admin-routes.ts";
import { clientRoutes } from "./client-routes.ts";
import { demoRoutes } from "./demo-page.ts";
import { docsRoutes } from "./docs-routes.ts";
import { jobFastPaths } from "./job-fast-paths.ts";
import { jobTypesRoutes } from "./job-types-routes.ts";
import { type JobsRoutesDeps, jobsRoutes } from "./jobs-routes.ts";
import { cors, type OriginPolicy } from "./origins.ts";
import { problemMiddleware } from "./problem-middleware.ts";
import { requestLog } from "./request-log.ts";

export interface AppDeps extends JobsRoutesDeps {
  instanceId: string;
  origins: OriginPolicy;
  /** Proxies in front of the API whose X-Forwarded-For entries are trusted (0 = none). */
  proxyHops: number;
  /** Which dependencies are reachable now, for /readyz. */
  readiness: () => Record<string, boolean>;
  /** The operator page and its API (/admin). */
  admin: AdminDeps;
  /** METRICS_TOKEN: /metrics needs it as a Bearer credential; null = open. */
  metricsToken: string | null;
}

export function createApp(deps: AppDeps): Koa {
  // With `proxy`, ctx.ip is the first of X-Forwarded-For's last `maxIpsCount` entries: the one
  // `proxyHops` from the right, which the outermost trusted proxy appended. Entries to its left
  // are whatever the client wrote, and are ignored.
  const app = new Koa({ proxy: deps.proxyHops > 0, maxIpsCount: deps.proxyHops });
  app.on("error", (err: unknown) => deps.log.error("koa error", { error: err instanceof Error ? err : String(err) }));
  app.use(requestLog(deps.log));
  // Middleware that only passes a request on returns next()'s promise rather than awaiting it: one
  // async frame (and its promises) fewer per layer on every request.
  app.use((ctx, next) => {
    ctx.set("X-Herald-Instance", deps.instanceId);
    return next();
  });
  app.use(problemMiddleware(deps.log));
  app.use(cors(deps.origins));

  const { metrics } = deps;
  const metricsRefusal = metricsAccess(deps.metricsToken);
  app.use((ctx, next) => {
    if (ctx.method !== "GET") return next();
    switch (ctx.path) {
      case "/healthz":
        ctx.body = { status: "ok", instance: deps.instanceId };
        return;
      case "/metrics": {
        if (!metrics) return next();
        const refused = metricsRefusal(ctx.get("Authorization"));
        if (refused) throw refused;
        ctx.type = metrics.registry.contentType;
        return metrics.registry.metrics().then((text) => {
          ctx.body = text;
        });
      }
      case "/readyz": {
        const checks = deps.readiness();
        const ready = Object.values(checks).every(Boolean);
        ctx.status = ready ? 200 : 503;
        ctx.body = { status: ready ? "ready" : "not ready", checks, instance: deps.instanceId };
        return;
      }
      default:
        return next();
    }
  });

  const mount = (router: Router) => {
    app.use(router.routes());
    app.use(router.allowedMethods()); // sets 405 + Allow; problemMiddleware adds the problem body
  };
  // The job protocol before the rest: its routes are the busy ones (every poll), and no other
  // router's paths overlap /jobs, so a request to it passes no other router or the admin gate.
  const jobs = jobsRoutes(deps);
  app.use(jobFastPaths(jobs));
  mount(jobs.router);
  const admin = adminRoutes(deps.admin);
  app.use(admin.gate);
  for (const router of [
    admin.router,
    jobTypesRoutes(deps.jobTypes),
    clientRoutes(),
    demoRoutes(),
    docsRoutes(deps.jobTypes, deps.payloads),
  ])
    mount(router);
  return app;
}
