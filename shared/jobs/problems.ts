// Every kind of error Herald reports, with its stable RFC 9457 `type` URI and HTTP status.
// Clients switch on `type`; titles are for humans and may be reworded.
import type { Problem } from "./schemas.ts";

const base = "urn:herald:problem:";

export const problemKinds = {
  invalidJson: { type: `${base}invalid-json`, title: "Request body is not valid JSON", status: 400 },
  unauthorized: { type: `${base}unauthorized`, title: "An access token is required", status: 401 },
  forbidden: { type: `${base}forbidden`, title: "This credential is not allowed here", status: 403 },
  invalidParameters: { type: `${base}invalid-parameters`, title: "Invalid query or request parameters", status: 400 },
  notFound: { type: `${base}not-found`, title: "No such resource", status: 404 },
  methodNotAllowed: { type: `${base}method-not-allowed`, title: "Method not allowed", status: 405 },
  jobNotFinished: { type: `${base}job-not-finished`, title: "The job has no result yet", status: 409 },
  jobFinished: { type: `${base}job-finished`, title: "The job has finished already", status: 409 },
  jobHasNoResult: { type: `${base}job-has-no-result`, title: "The job ended without a result", status: 409 },
  idempotencyKeyInUse: {
    type: `${base}idempotency-key-in-use`,
    title: "A request with this Idempotency-Key is still being processed",
    status: 409,
  },
  idempotencyKeyReused: {
    type: `${base}idempotency-key-reused`,
    title: "This Idempotency-Key was used with a different request",
    status: 422,
  },
  invalidIdempotencyKey: { type: `${base}invalid-idempotency-key`, title: "Invalid Idempotency-Key", status: 400 },
  rateLimited: { type: `${base}rate-limited`, title: "Too many requests", status: 429 },
  tooManyJobsInFlight: { type: `${base}too-many-jobs-in-flight`, title: "Too many unfinished jobs", status: 429 },
  queueFull: { type: `${base}queue-full`, title: "Too much work queued; try again later", status: 503 },
  shuttingDown: { type: `${base}shutting-down`, title: "This instance is shutting down; try again", status: 503 },
  payloadTooLarge: { type: `${base}payload-too-large`, title: "Request body too large", status: 413 },
  unsupportedMediaType: {
    type: `${base}unsupported-media-type`,
    title: "Request body must be application/json",
    status: 415,
  },
  invalidRequest: { type: `${base}invalid-request`, title: "The request is not a valid job request", status: 422 },
  unknownJobType: { type: `${base}unknown-job-type`, title: "Unknown job type", status: 422 },
  noWorkerForType: {
    type: `${base}no-worker-for-type`,
    title: "No live worker serves this job type",
    status: 422,
  },
  invalidPayload: { type: `${base}invalid-payload`, title: "The payload is not valid for this job type", status: 422 },
  tooManySubscriptions: {
    type: `${base}too-many-subscriptions`,
    title: "This connection follows too many jobs",
    status: 429,
  },
  internal: { type: `${base}internal`, title: "Internal server error", status: 500 },
  storeUnavailable: {
    type: `${base}store-unavailable`,
    title: "Job state is unavailable; try again later",
    status: 503,
  },
  brokerUnavailable: {
    type: `${base}broker-unavailable`,
    title: "The job could not be queued; try again later",
    status: 503,
  },
  // Job failures (the `error` member of a failed job), not HTTP answers.
  jobFailed: { type: `${base}job-failed`, title: "The job's handler failed" },
  jobTimeout: { type: `${base}job-timeout`, title: "The job's handler ran out of time" },
  attemptsExhausted: { type: `${base}attempts-exhausted`, title: "The job did not finish within its attempts" },
  workerLost: { type: `${base}worker-lost`, title: "The worker running the job stopped responding" },
  resultTooLarge: { type: `${base}result-too-large`, title: "The job's result is larger than allowed" },
  invalidResource: {
    type: `${base}invalid-resource`,
    title: "The job's handler returned a resource URI that is not allowed",
  },
  invalidMessage: { type: `${base}invalid-message`, title: "The queued message for this job is invalid" },
} as const;

export type ProblemKind = keyof typeof problemKinds;

/** An error that the API turns into a problem+json response. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    kind: ProblemKind,
    detail?: string,
    options: { extensions?: Record<string, unknown>; headers?: Record<string, string>; status?: number } = {},
  ) {
    const k = problemKinds[kind];
    super(detail ?? k.title);
    this.status = options.status ?? ("status" in k ? k.status : 500);
    this.problem = {
      type: k.type,
      title: k.title,
      status: this.status,
      ...(detail ? { detail } : {}),
      ...options.extensions,
    };
    this.headers = options.headers ?? {};
  }
}

/** A problem object for a job's `error` member. */
export function jobProblem(kind: ProblemKind, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const k = problemKinds[kind];
  return { type: k.type, title: k.title, detail, ...extensions };
}
