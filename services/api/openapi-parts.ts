// Building blocks of the OpenAPI document: the headers and parameters the protocol uses, its
// security schemes, and problem+json answers narrowed to the problem types each can carry.
import { type ProblemKind, problemKinds } from "../../shared/jobs/problems.ts";
import { schemaRef } from "./openapi-schemas.ts";

type Obj = Record<string, unknown>;

const str = { type: "string" };
const seconds = { type: "string", pattern: "^[0-9]+$", description: "Seconds." };

export const headers: Record<string, Obj> = {
  Location: {
    description: "Where to go next (the status monitor, the result, or the result's resource).",
    schema: str,
  },
  "Retry-After": { description: "How long to wait before asking again.", schema: seconds },
  ETag: {
    description:
      'Strong tag of what is shown: `"<id>.<version>"` (`.s` added while stalled). Send it back in `If-None-Match`.',
    schema: { type: "string", pattern: '^"[^"]+"$' },
  },
  "Preference-Applied": {
    description: "Which `Prefer` preferences were honoured (`wait=N`, `return=representation`).",
    schema: str,
  },
  "Idempotent-Replayed": {
    description: "`true` when this answer replays the job an earlier request with the same `Idempotency-Key` created.",
    schema: { type: "string", enum: ["true"] },
  },
  "Herald-Warning": {
    description:
      "`no-worker-for-type: …` when no live worker serves the job's type (JOB_TYPE_WITHOUT_WORKER=accept): the job waits in the queue until one does.",
    schema: { type: "string", pattern: "^no-worker-for-type" },
  },
  "Content-Location": { description: "The job's status monitor, whose state this body is.", schema: str },
  "WWW-Authenticate": {
    description: 'The scheme to use: `Bearer realm="herald"` (`realm="herald-admin"` on /admin).',
    schema: str,
  },
  "X-Herald-Instance": { description: "Which API instance answered (INSTANCE_ID).", schema: str },
  "X-Request-Id": {
    description:
      "The request's id (the client's `X-Request-Id` if sane, else a new one): it is in the API's and the worker's log lines.",
    schema: str,
  },
};

/** Headers on every answer (the request log middleware sets X-Request-Id). */
const always = ["X-Herald-Instance", "X-Request-Id"];

/** Response headers: `required` ones are sent on every such answer, the others only sometimes.
 * Inlined, not `$ref`s: a Reference Object may not carry `required`. */
export function headerRefs(required: readonly string[], optional: readonly string[] = []): Obj {
  const out: Obj = {};
  for (const name of [...required, ...optional, ...always]) {
    const header = headers[name];
    if (!header) throw new TypeError(`openapi: undeclared header ${name}`);
    out[name] = { ...header, required: required.includes(name) || always.includes(name) };
  }
  return out;
}

export const parameters: Record<string, Obj> = {
  JobId: { name: "id", in: "path", required: true, description: "The job's id.", schema: { ...str, format: "uuid" } },
  IdempotencyKey: {
    name: "Idempotency-Key",
    in: "header",
    description:
      "Makes the submit safe to retry: the same key and body within the idempotency window answer the same job (with `Idempotent-Replayed: true`); the key with another body is a 422.",
    schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
  },
  PreferSubmit: {
    name: "Prefer",
    in: "header",
    description:
      "`wait=N`: hold the answer up to N seconds (bounded by LONG_POLL_MAX_SECONDS) and answer 200 with the final state if the job ends by then.",
    schema: str,
  },
  PreferStatus: {
    name: "Prefer",
    in: "header",
    description:
      "`wait=N` with a matching `If-None-Match`: long poll, answered at the next change or after N seconds (304). `return=representation`: a succeeded job answers 200, not 303.",
    schema: str,
  },
  IfNoneMatch: {
    name: "If-None-Match",
    in: "header",
    description: "The ETag you have: 304 if nothing changed (or a long poll, with `Prefer: wait=N`).",
    schema: str,
  },
  LastEventId: {
    name: "Last-Event-ID",
    in: "header",
    description: "The last event id (job version) received: the stream resumes after it.",
    schema: { type: "string", pattern: "^[0-9]+$" },
  },
  LastEventIdQuery: {
    name: "lastEventId",
    in: "query",
    description: "As `Last-Event-ID`, for clients that cannot set headers.",
    schema: { type: "string", pattern: "^[0-9]+$" },
  },
};

export const paramRef = (name: keyof typeof parameters): Obj => ({ $ref: `#/components/parameters/${name}` });

export const securitySchemes: Obj = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description: "The job's token (from the 202), or a JWT when JWT credentials are configured.",
  },
  apiKey: { type: "apiKey", in: "header", name: "X-API-Key", description: "An API key (API_KEYS)." },
  adminToken: {
    type: "http",
    scheme: "bearer",
    description: "The operator credential: ADMIN_TOKEN (/admin only; unset = no /admin at all).",
  },
  metricsToken: {
    type: "http",
    scheme: "bearer",
    description: "METRICS_TOKEN, for /metrics (unset = /metrics is open).",
  },
  accessToken: {
    type: "apiKey",
    in: "query",
    name: "access_token",
    description: "The job's token in the URL, for clients that cannot set headers (EventSource, links).",
  },
};

/** Problem+json answers of one operation: each status with the problem types it may carry. */
export function problems(byStatus: Record<number, readonly ProblemKind[]>): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const [status, kinds] of Object.entries(byStatus)) {
    const code = Number(status);
    const required = code === 401 ? ["WWW-Authenticate"] : code === 429 || code === 503 ? ["Retry-After"] : [];
    out[status] = problemResponse(code, kinds, required);
  }
  return out;
}

export function problemResponse(status: number, kinds: readonly ProblemKind[], required: readonly string[]): Obj {
  const types = kinds.map((k) => problemKinds[k].type);
  return {
    description: kinds.map((k) => `\`${problemKinds[k].type}\`: ${problemKinds[k].title}`).join("; "),
    headers: headerRefs(required),
    content: {
      "application/problem+json": {
        schema: {
          allOf: [schemaRef("Problem")],
          properties: { type: { enum: [...new Set(types)] }, status: { const: status } },
          required: ["status"],
        },
      },
    },
  };
}

/** Every problem type, for the document's description (job failures never are HTTP answers). */
export function problemTable(): string {
  const rows = Object.values(problemKinds).map(
    (k) => `| \`${k.type}\` | ${"status" in k ? k.status : "job `error` only"} | ${k.title} |`,
  );
  return ["| type | HTTP status | title |", "| --- | --- | --- |", ...new Set(rows)].join("\n");
}
