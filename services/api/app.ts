// Builds the Koa app from its dependencies; only main.ts listens and connects.
import Koa from "koa";
import type { JobChangeFeed } from "../../shared/job-changes.ts";
import type { JobControlPublisher } from "../../shared/job-control.ts";
import type { JobEventPublisher } from "../../shared/job-events.ts";
import type { JobQueue } from "../../shared/job-queue.ts";
import type { JobStore, LeaseStore } from "../../shared/job-store.ts";
import type { JobCatalog } from "../../shared/job-types.ts";
import type { Logger } from "../../shared/log.ts";
import { clientRoutes } from "./client-routes.ts";
import { jobsRoutes } from "./jobs-routes.ts";
import { cors, type OriginPolicy } from "./origins.ts";
import { problemMiddleware } from "./problem-middleware.ts";
import type { PollingHints } from "./status-response.ts";

export interface AppDeps {
  store: JobStore & LeaseStore;
  changes: JobChangeFeed;
  events: JobEventPublisher;
  control: JobControlPublisher;
  queue: Pick<JobQueue, "publish">;
  catalog: JobCatalog;
  log: Logger;
  instanceId: string;
  origins: OriginPolicy;
  bodyLimitBytes: number;
  hints: PollingHints;
  longPollMaxSeconds: number;
  sseHeartbeatMs: number;
  /** Which dependencies are reachable now, for /readyz. */
  readiness: () => Record<string, boolean>;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.on("error", (err: unknown) => deps.log.error("koa error", { error: err instanceof Error ? err : String(err) }));
  app.use(async (ctx, next) => {
    ctx.set("X-Herald-Instance", deps.instanceId);
    await next();
  });
  app.use(problemMiddleware(deps.log));
  app.use(cors(deps.origins));

  app.use(async (ctx, next) => {
    if (ctx.path === "/healthz" && ctx.method === "GET") {
      ctx.body = { status: "ok", instance: deps.instanceId };
      return;
    }
    if (ctx.path === "/readyz" && ctx.method === "GET") {
      const checks = deps.readiness();
      const ready = Object.values(checks).every(Boolean);
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? "ready" : "not ready", checks, instance: deps.instanceId };
      return;
    }
    await next();
  });

  for (const router of [jobsRoutes(deps), clientRoutes()]) {
    app.use(router.routes());
    app.use(router.allowedMethods()); // sets 405 + Allow; problemMiddleware adds the problem body
  }
  return app;
}
