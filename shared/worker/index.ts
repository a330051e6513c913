// herald/worker: what a package user needs to serve their own job types. Define each type with
// its payload schema and handler (`defineJob`), then run them with `herald worker --jobs <module>`
// or start a worker in your own process (`startWorker`).
export { z } from "zod";
export { defaultRetryPolicy, type JobType, type RetryPolicy } from "../jobs/job-types.ts";
export type { Progress } from "../jobs/schemas.ts";
export type { Config } from "../runtime/config.ts";
export { defineJob, isJobDefinition, type JobDefinition, type JobSpec, jobsOf } from "./define-job.ts";
export { type HandlerContext, PermanentError, type ResourceResult, resource } from "./handlers.ts";
export { type RunningWorker, type StartWorkerOptions, startWorker } from "./start-worker.ts";
