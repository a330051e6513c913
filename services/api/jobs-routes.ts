// The job protocol: submit, status monitor, result. See README.md#http-protocol.
import { randomUUID } from "node:crypto";
import Router from "@koa/router";
import type { JobQueue } from "../../shared/job-queue.ts";
import type { JobStore } from "../../shared/job-store.ts";
import type { JobCatalog } from "../../shared/job-types.ts";
import { toView } from "../../shared/job-view.ts";
import type { Logger } from "../../shared/log.ts";
import { HttpProblem } from "../../shared/problems.ts";
import { type AcceptedJob, CreateJobRequest, type JobRecord } from "../../shared/schemas.ts";
import { hashToken, newToken } from "../../shared/tokens.ts";
import { authorisedJob } from "./access.ts";
import { jsonBody } from "./json-body.ts";
import { type PollingHints, sendStatus } from "./status-response.ts";

export interface JobsRoutesDeps {
  store: JobStore;
  queue: Pick<JobQueue, "publish">;
  catalog: JobCatalog;
  log: Logger;
  bodyLimitBytes: number;
  hints: PollingHints;
}

export function jobsRoutes(deps: JobsRoutesDeps): Router {
  const { store, queue, catalog, log, hints } = deps;
  const router = new Router();

  router.post("/jobs", jsonBody(deps.bodyLimitBytes), async (ctx) => {
    const request = CreateJobRequest.safeParse(ctx.request.body);
    if (!request.success) {
      throw new HttpProblem("invalidRequest", 'expected {"type": string, "payload": object}', {
        extensions: { errors: request.error.issues },
      });
    }
    const jobType = catalog.get(request.data.type);
    if (!jobType) {
      throw new HttpProblem("unknownJobType", `no job type "${request.data.type}"`, {
        extensions: { knownTypes: [...catalog.keys()] },
      });
    }
    const payload = jobType.payload.safeParse(request.data.payload);
    if (!payload.success) {
      throw new HttpProblem("invalidPayload", `payload is not valid for "${jobType.name}"`, {
        extensions: { errors: payload.error.issues },
      });
    }

    const now = new Date().toISOString();
    const token = newToken();
    const job: JobRecord = {
      id: randomUUID(),
      type: jobType.name,
      status: "queued",
      version: 1,
      attempts: 0,
      progress: { percent: 0 },
      tokenHash: hashToken(token),
      createdAt: now,
      updatedAt: now,
    };
    // Record first, so a worker never meets a message without a job; publish second, confirm awaited.
    await store.create(job);
    try {
      await queue.publish({ v: 1, jobId: job.id, type: job.type, payload: payload.data as Record<string, unknown> });
    } catch (err) {
      log.warn("publish failed; refusing the job", { jobId: job.id, error: String(err) });
      await store
        .delete(job.id)
        .catch((e: unknown) => log.error("could not remove the refused job", { jobId: job.id, error: String(e) }));
      throw new HttpProblem("brokerUnavailable", "the job queue did not confirm the job", {
        headers: { "Retry-After": "5" },
      });
    }

    const body: AcceptedJob = { ...toView(job), token };
    ctx.status = 202;
    ctx.set("Location", body.statusUrl);
    ctx.set("Retry-After", String(hints.retryAfterSeconds));
    ctx.set("Cache-Control", "no-store");
    ctx.body = body;
  });

  router.get("/jobs/:id", async (ctx) => {
    sendStatus(ctx, await authorisedJob(ctx, store, ctx.params.id ?? ""), hints);
  });

  router.get("/jobs/:id/result", async (ctx) => {
    const job = await authorisedJob(ctx, store, ctx.params.id ?? "");
    ctx.set("Cache-Control", "no-store");
    if (job.status !== "succeeded") {
      const ended = job.status === "failed" || job.status === "canceled";
      throw new HttpProblem(ended ? "jobHasNoResult" : "jobNotFinished", `the job is ${job.status}`, {
        extensions: { jobStatus: job.status, statusUrl: toView(job).statusUrl },
      });
    }
    if (job.result?.kind === "resource") {
      ctx.status = 303;
      ctx.set("Location", job.result.uri);
      return;
    }
    const result = await store.getResult(job.id);
    if (result === null) throw new HttpProblem("notFound", "the result has expired");
    ctx.type = "application/json";
    ctx.body = result;
  });

  return router;
}
