// GET /job-types: the job types workers announced (shared/registry/), each with its payload
// schema, version, retry policy and how many live workers serve it. Read from Redis on every call.
import Router from "@koa/router";
import { z } from "zod";
import { type JobTypeRegistry, RetryPolicySchema } from "../../shared/registry/job-type-registry.ts";

export const JobTypeList = z.strictObject({
  jobTypes: z.array(
    z.strictObject({
      name: z.string(),
      version: z.string(),
      description: z.string(),
      payload: z.record(z.string(), z.unknown()).describe("JSON Schema (draft 2020-12) of the payload."),
      retry: RetryPolicySchema,
      announcedAt: z.iso.datetime().describe("When a worker last announced this definition."),
      liveWorkers: z.int().min(0).describe("Workers whose announcement has not expired."),
    }),
  ),
});
export type JobTypeList = z.infer<typeof JobTypeList>;

export function jobTypesRoutes(jobTypes: JobTypeRegistry): Router {
  const router = new Router();
  router.get("/job-types", async (ctx) => {
    const types = await jobTypes.list();
    const body: JobTypeList = {
      jobTypes: types.map(({ definition: d, liveWorkers }) => ({
        name: d.name,
        version: d.version,
        description: d.description,
        payload: d.payload,
        retry: d.retry,
        announcedAt: new Date(d.announcedAt).toISOString(),
        liveWorkers,
      })),
    };
    ctx.set("Cache-Control", "no-cache");
    ctx.body = body;
  });
  return router;
}
