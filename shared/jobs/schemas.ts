// The job model: one zod schema per shape, and the TypeScript types derived from them.
// Every boundary (HTTP body, queue message, Redis record, socket payload) validates with these.
import { z } from "zod";
import { jobStatuses } from "./job-status.ts";

// The status list lives in a zod-free module (the browser client uses it); re-exported here.
export { isTerminal, jobStatuses, terminalStatuses } from "./job-status.ts";
export const JobStatus = z.enum(jobStatuses);
export type JobStatus = z.infer<typeof JobStatus>;

/** Job ids are random UUIDv4: 122 random bits. */
export const JobId = z.uuid({ version: "v4" });

/** JobId's test without a parse (no result object, no issue list): the check before every read of a
 * job by the id in its URL. The same pattern as JobId's (test/unit/job-id.test.ts). */
export const isJobId = (id: string): boolean => z.regexes.uuid4.test(id);

export const Progress = z.object({
  percent: z.number().min(0).max(100),
  message: z.string().max(500).optional(),
  etaSeconds: z.number().min(0).max(31_536_000).optional(),
});
export type Progress = z.infer<typeof Progress>;

/** RFC 9457 problem details; extension members allowed. */
export const Problem = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().optional(),
  detail: z.string().optional(),
  instance: z.string().optional(),
});
export type Problem = z.infer<typeof Problem>;

/** Where a succeeded job's result lives: stored data, or a resource the handler named. */
export const ResultRef = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("stored") }),
  z.object({ kind: z.literal("resource"), uri: z.string() }),
]);
export type ResultRef = z.infer<typeof ResultRef>;

/** What Redis holds for a job. Never sent to clients as is (it has the token hash). */
export const JobRecord = z.object({
  id: JobId,
  type: z.string(),
  status: JobStatus,
  /** Grows by one on every committed change; the one cursor for ETags and events. */
  version: z.number().int().min(1),
  attempts: z.number().int().min(0),
  /** Fencing token of the current (or last) attempt: every write of an attempt, and the release of
   * its lease, is conditional on it, so an attempt that lost the job can change nothing. */
  attemptId: z.string().optional(),
  progress: Progress,
  tokenHash: z.string(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  result: ResultRef.optional(),
  /** Why the job failed; while `queued` again for a retry, why the last attempt failed. */
  error: Problem.optional(),
  /** When a job waiting for a retry is due. */
  retryAt: z.iso.datetime().optional(),
  /** DELETE arrived while the job was running: its worker aborts it and ends it `canceled`. */
  cancelRequested: z.boolean().optional(),
  /** The submitter's identity (API key or JWT subject), when submitting needs a credential. */
  owner: z.string().optional(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/** The public representation: status body, event payload, snapshot. */
export const JobView = z.object({
  id: JobId,
  type: z.string(),
  status: JobStatus,
  version: z.number().int(),
  attempts: z.number().int(),
  progress: Progress,
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  statusUrl: z.string(),
  resultUrl: z.string().optional(),
  error: Problem.optional(),
  retryAt: z.string().optional(),
  cancelRequested: z.boolean().optional(),
  /** Running, but its worker stopped renewing its lease: it crashed or hangs. Redelivery or the
   * stall sweeper will move the job on. */
  stalled: z.boolean().optional(),
});
export type JobView = z.infer<typeof JobView>;

/** The 202 body: the view plus the job's access token, shown this once. */
export const AcceptedJob = JobView.extend({ token: z.string() });
export type AcceptedJob = z.infer<typeof AcceptedJob>;

/** `POST /jobs` body. Unknown top-level fields are refused. */
export const CreateJobRequest = z.strictObject({
  type: z.string().min(1).max(100),
  payload: z.record(z.string(), z.unknown()).default({}),
});
export type CreateJobRequest = z.infer<typeof CreateJobRequest>;

/** CreateJobRequest.safeParse, with the body every client sends (a plain object of a `type` of 1-100
 * characters and an object `payload`, nothing else) checked by hand: zod's parse of it was ~2 % of a
 * submit's CPU in a profile. Any other body goes to zod, which also says what is wrong with it. */
export function parseCreateJobRequest(body: unknown): z.ZodSafeParseResult<CreateJobRequest> {
  if (isPlainObject(body)) {
    const { type, payload } = body;
    if (
      typeof type === "string" &&
      type.length >= 1 &&
      type.length <= 100 &&
      isPlainObject(payload) &&
      Object.keys(body).length === 2 &&
      // zod's copy drops an own `__proto__` (the HTTP body parser refuses one anyway)
      !Object.hasOwn(payload, "__proto__")
    ) {
      // A copy, as zod's record makes: what the submit does to it leaves the body as it came.
      return { success: true, data: { type, payload: { ...payload } } };
    }
  }
  return CreateJobRequest.safeParse(body);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** A message on the jobs queue. `v` lets the format change without breaking old workers silently. */
export const JobMessage = z.strictObject({
  v: z.literal(1),
  jobId: JobId,
  type: z.string().min(1).max(100),
  payload: z.record(z.string(), z.unknown()),
});
export type JobMessage = z.infer<typeof JobMessage>;
