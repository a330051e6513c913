// The OpenAPI document's `components.schemas`, converted by zod from the very schemas that
// validate requests (shared/jobs/schemas.ts), plus the payload JSON Schemas the job types' workers
// announced (read from the registry when the document is asked for), so the document cannot drift
// from what the API accepts and answers.
import { z } from "zod";
import {
  AcceptedJob,
  CreateJobRequest,
  JobId,
  JobStatus,
  JobView,
  Problem,
  Progress,
} from "../../shared/jobs/schemas.ts";
import { ReplayRequest } from "./admin-routes.ts";
import { JobTypeList } from "./job-types-routes.ts";

/** The /healthz body (written by hand in app.ts; described here). */
export const Health = z.object({ status: z.literal("ok"), instance: z.string() });

/** The /readyz body: 200 when every check holds, else 503. */
export const Readiness = z.object({
  status: z.enum(["ready", "not ready"]),
  checks: z.record(z.string(), z.boolean()),
  instance: z.string(),
});

/** Answers of the operator API (admin-routes.ts builds them by hand; described here). */
export const AdminJobList = z.strictObject({ jobs: z.array(JobView), limit: z.int().min(1) });
export const AdminStats = z.strictObject({
  queueDepth: z.int().min(0).nullable().describe("Messages in the jobs queue; null while RabbitMQ does not answer."),
  deadLetters: z
    .int()
    .min(0)
    .nullable()
    .describe("Messages in the dead-letter queue; null while RabbitMQ does not answer."),
  rates: z.strictObject({
    windowSeconds: z.number(),
    accepted: z.int().min(0),
    succeeded: z.int().min(0),
    failed: z.int().min(0),
    lookbackSeconds: z.number(),
  }),
  at: z.iso.datetime(),
});
export const DeadLetterList = z.strictObject({
  total: z.int().min(0),
  messages: z.array(
    z.strictObject({
      jobId: z.string().nullable(),
      type: z.string().nullable(),
      reason: z.string().nullable().describe("Why RabbitMQ dead-lettered it (x-death): rejected, expired, ..."),
      body: z.string(),
    }),
  ),
});
export const ReplayReport = z.strictObject({
  replayed: z.array(JobId).describe("Jobs reset to queued, their message back on the jobs queue."),
  kept: z.array(z.strictObject({ jobId: z.string().nullable(), reason: z.string() })),
  dropped: z.array(JobId).describe("Further copies of a replayed job's message, dropped."),
});

type JsonSchema = Record<string, unknown>;

export const schemaRef = (id: string): JsonSchema => ({ $ref: `#/components/schemas/${id}` });

/** Component name of a job type's request (`JobRequest.demo`). */
export const jobRequestId = (typeName: string): string => `JobRequest.${typeName.replace(/[^A-Za-z0-9._-]/g, "_")}`;

/** A job type as the document shows it: its announced payload schema, and whether `{}` passes it. */
export interface DocumentedJobType {
  name: string;
  description: string;
  payload: JsonSchema;
  acceptsEmpty: boolean;
}

/** One `POST /jobs` body per job type: CreateJobRequest with `type` fixed and the type's own
 * payload schema. `payload` may be left out where the type accepts `{}` (the API's default). */
function jobRequest(t: DocumentedJobType): JsonSchema {
  const { $schema: _, $id: __, ...payload } = t.payload; // the document sets the dialect once
  return {
    type: "object",
    description: t.description,
    properties: { type: { type: "string", const: t.name }, payload },
    required: t.acceptsEmpty ? ["type"] : ["type", "payload"],
    additionalProperties: false,
  };
}

export function componentSchemas(jobTypes: readonly DocumentedJobType[]): Record<string, JsonSchema> {
  // Answers are what the API sends (zod's output side); requests what it accepts (input side:
  // defaults make fields optional). Two registries, so each side converts in its own mode.
  const answers = z.registry<{ id: string; description?: string }>();
  answers.add(JobStatus, { id: "JobStatus" });
  answers.add(Progress, { id: "Progress" });
  answers.add(Problem, { id: "Problem", description: "RFC 9457 problem details; extension members allowed." });
  answers.add(JobView, { id: "JobView", description: "A job as the status monitor shows it." });
  answers.add(AcceptedJob, {
    id: "AcceptedJob",
    description: "The job, with its access token: shown in this answer only.",
  });
  answers.add(Health, { id: "Health" });
  answers.add(Readiness, { id: "Readiness" });
  answers.add(AdminJobList, { id: "AdminJobList", description: "Recent jobs, newest first." });
  answers.add(AdminStats, { id: "AdminStats" });
  answers.add(DeadLetterList, { id: "DeadLetterList", description: "`total` in the queue; the first `limit`." });
  answers.add(ReplayReport, { id: "ReplayReport" });
  answers.add(JobTypeList, { id: "JobTypeList", description: "The job types workers announced, by name." });

  const requests = z.registry<{ id: string; description?: string }>();
  requests.add(CreateJobRequest, {
    id: "CreateJobRequest",
    description: "What every job request is (else 422 invalid-request); `JobRequest` adds each type's payload.",
  });
  requests.add(ReplayRequest, {
    id: "ReplayRequest",
    description: 'All letters (`{"all": true}`) or those of the given jobs.',
  });
  const convert = (registry: typeof answers, io: "input" | "output") =>
    z.toJSONSchema(registry, {
      io,
      target: "draft-2020-12",
      unrepresentable: "any", // a refinement JSON Schema cannot say is checked by the API anyway
      uri: (id) => `#/components/schemas/${id}`,
    }).schemas as Record<string, JsonSchema>;
  const schemas = { ...convert(answers, "output"), ...convert(requests, "input") };
  for (const s of Object.values(schemas)) {
    delete s.$schema; // the document sets the dialect once
    delete s.$id; // zod names each by its component URI: a fragment, which 2020-12 forbids in $id
  }
  for (const t of jobTypes) schemas[jobRequestId(t.name)] = jobRequest(t);
  schemas.JobRequest =
    jobTypes.length === 0
      ? schemaRef("CreateJobRequest")
      : {
          anyOf: jobTypes.map((t) => schemaRef(jobRequestId(t.name))),
          description:
            "A job request of one of the types workers announced (else 422 unknown-job-type or invalid-payload).",
        };
  return schemas;
}
