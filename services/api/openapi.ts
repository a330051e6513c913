// The OpenAPI 3.1 document of the API (served at /openapi.json, rendered at /docs): every
// endpoint, status code, header and problem type. Schemas come from zod (openapi-schemas.ts);
// the rest is written here, next to nothing else, so a change of protocol shows up in one file.
import { packageInfo } from "../../shared/runtime/package-info.ts";
import { adminPaths, adminTag } from "./openapi-admin.ts";
import {
  headerRefs,
  headers,
  parameters,
  paramRef,
  problemResponse,
  problems,
  problemTable,
  securitySchemes,
} from "./openapi-parts.ts";
import { componentSchemas, type DocumentedJobType, schemaRef } from "./openapi-schemas.ts";

type Obj = Record<string, unknown>;

const { version } = packageInfo;

const json = (schema: Obj): Obj => ({ "application/json": { schema } });
const jobView = json(schemaRef("JobView"));

/** Who may read or cancel a job: its token, or the credential of the subject that submitted it. */
const jobSecurity = [{ bearer: [] }, { apiKey: [] }, { accessToken: [] }];
/** Submitting needs a credential only when API_KEYS or JWT settings are configured. */
const submitSecurity = [{}, { apiKey: [] }, { bearer: [] }];

const readProblems = problems({
  401: ["unauthorized"],
  404: ["notFound"],
  429: ["rateLimited"],
  500: ["internal"],
  503: ["storeUnavailable"],
});

/** The document, with the job types the registry holds now (`POST /jobs` bodies, one per type). */
export function openApiDocument(jobTypes: readonly DocumentedJobType[]): Obj {
  return {
    openapi: "3.1.0",
    info: {
      title: "Herald",
      version,
      summary: "Long-running HTTP requests: 202 Accepted now, progress and result delivered the moment they exist.",
      description: [
        "Submit a job (`POST /jobs`), then follow its status monitor (`GET /jobs/{id}`: poll with `Retry-After`,",
        "long-poll with `If-None-Match` + `Prefer: wait=N`, or stream `GET /jobs/{id}/events`), and fetch the",
        "result where the 303 points. Every error is `application/problem+json` (RFC 9457) with a stable `type`.",
        "Any path answers 404 `not-found` when it has no route, and 405 `method-not-allowed` (with `Allow`) for",
        "a method it does not have. Socket.IO (`/socket.io/`) is described in the README.",
        "",
        "### Problem types",
        "",
        problemTable(),
      ].join("\n"),
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    tags: [
      { name: "jobs", description: "The job protocol." },
      { name: "operations", description: "Probes for orchestrators and load balancers." },
      { name: "browser", description: "The client library and pages for people." },
      adminTag,
    ],
    paths: {
      "/jobs": { post: submit(jobTypes) },
      "/jobs/{id}": { parameters: [paramRef("JobId")], get: status(), delete: cancel() },
      "/jobs/{id}/result": { parameters: [paramRef("JobId")], get: result() },
      "/jobs/{id}/events": { parameters: [paramRef("JobId")], get: events() },
      "/job-types": { get: listJobTypes() },
      "/healthz": { get: probe("Liveness: the process answers.", { 200: ok("Alive.", "Health") }) },
      "/readyz": {
        get: probe("Readiness: 200 when the API accepts jobs and reaches RabbitMQ and Redis.", {
          200: ok("Ready.", "Readiness"),
          503: ok("Not ready (shutting down, or a dependency is unreachable).", "Readiness"),
        }),
      },
      "/client.js": { get: page("The browser client library, one ES module.", "text/javascript") },
      "/": { get: page("The demo page (the same as /demo).", "text/html") },
      "/demo": { get: page("A demo page that submits and follows jobs.", "text/html") },
      "/openapi.json": { get: page("This document.", "application/json") },
      "/docs": { get: page("This document, rendered (served with its renderer: no Internet needed).", "text/html") },
      "/metrics": { get: metricsOperation() },
      ...adminPaths(),
    },
    components: {
      schemas: componentSchemas(jobTypes),
      headers,
      parameters,
      securitySchemes,
    },
  };
}

function submit(jobTypes: readonly DocumentedJobType[]): Obj {
  return {
    tags: ["jobs"],
    operationId: "submitJob",
    summary: "Submit a job",
    description: [
      `Job types announced when this document was served: ${jobTypes.map((t) => `\`${t.name}\``).join(", ") || "none"}`,
      "(`GET /job-types` lists them with their live workers). A type with no live worker is queued with a",
      "`Herald-Warning` header, or refused `422 no-worker-for-type`, as JOB_TYPE_WITHOUT_WORKER says.",
    ].join(" "),
    security: submitSecurity,
    parameters: [paramRef("IdempotencyKey"), paramRef("PreferSubmit")],
    requestBody: { required: true, content: json(schemaRef("JobRequest")) },
    responses: {
      202: {
        description: "Accepted: recorded and queued. The body's `token` is shown only here.",
        headers: headerRefs(["Location", "Retry-After", "ETag"], ["Idempotent-Replayed", "Herald-Warning"]),
        content: json(schemaRef("AcceptedJob")),
      },
      200: {
        description: "With `Prefer: wait=N`: the job ended within the wait; its final state (and token).",
        headers: headerRefs(
          ["Content-Location", "ETag", "Preference-Applied"],
          ["Idempotent-Replayed", "Herald-Warning"],
        ),
        content: json(schemaRef("AcceptedJob")),
      },
      ...problems({
        400: ["invalidJson", "invalidIdempotencyKey"],
        401: ["unauthorized"],
        404: ["notFound"],
        413: ["payloadTooLarge"],
        415: ["unsupportedMediaType"],
        422: ["invalidRequest", "unknownJobType", "invalidPayload", "noWorkerForType", "idempotencyKeyReused"],
        429: ["rateLimited", "tooManyJobsInFlight"],
        500: ["internal"],
        503: ["shuttingDown", "queueFull", "brokerUnavailable", "storeUnavailable"],
      }),
      409: problemResponse(409, ["idempotencyKeyInUse"], ["Retry-After"]),
    },
  };
}

function listJobTypes(): Obj {
  return {
    tags: ["jobs"],
    operationId: "listJobTypes",
    summary: "The job types workers announced",
    description:
      "Each type's version, payload JSON Schema (what `POST /jobs` validates against), retry policy, and how many live workers serve it. See README, Job types.",
    security: [],
    responses: {
      200: { description: "The registry, read now.", headers: headerRefs([]), content: json(schemaRef("JobTypeList")) },
      ...problems({ 500: ["internal"], 503: ["storeUnavailable"] }),
    },
  };
}

function status(): Obj {
  return {
    tags: ["jobs"],
    operationId: "getJob",
    summary: "The job's status monitor",
    security: jobSecurity,
    parameters: [paramRef("IfNoneMatch"), paramRef("PreferStatus")],
    responses: {
      200: {
        description:
          "Queued or running (with `Retry-After`), failed or canceled; or succeeded with `Prefer: return=representation`. " +
          "A browser (`Accept: text/html`) gets the status page instead: HTML, at every status, with a `Refresh` " +
          "header while the job is unfinished.",
        headers: headerRefs(["ETag"], ["Retry-After", "Preference-Applied"]),
        content: { ...jobView, "text/html": { schema: { type: "string" } } },
      },
      303: {
        description: "Succeeded: `Location` is the result.",
        headers: headerRefs(["Location", "ETag"], ["Preference-Applied"]),
        content: jobView,
      },
      304: {
        description: "Unchanged since the `If-None-Match` ETag (after the long poll, if one was asked for).",
        headers: headerRefs(["ETag"], ["Preference-Applied"]),
      },
      ...readProblems,
    },
  };
}

function cancel(): Obj {
  return {
    tags: ["jobs"],
    operationId: "cancelJob",
    summary: "Cancel the job",
    security: jobSecurity,
    responses: {
      200: { description: "It was queued: now canceled.", headers: headerRefs(["ETag"]), content: jobView },
      202: {
        description: "It is running: its worker is told to stop, and will end it `canceled`.",
        headers: headerRefs(["ETag"]),
        content: jobView,
      },
      ...problems({
        401: ["unauthorized"],
        404: ["notFound"],
        409: ["jobFinished"],
        500: ["internal"],
        503: ["storeUnavailable"],
      }),
    },
  };
}

function result(): Obj {
  return {
    tags: ["jobs"],
    operationId: "getJobResult",
    summary: "The result of a succeeded job",
    security: jobSecurity,
    responses: {
      200: {
        description: "The result the job's handler returned, as JSON.",
        headers: headerRefs(["ETag"]),
        content: json({}),
      },
      303: { description: "The result is a resource: `Location` names it.", headers: headerRefs(["Location", "ETag"]) },
      ...readProblems,
      ...problems({ 409: ["jobNotFinished", "jobHasNoResult", "invalidResource"] }),
    },
  };
}

function events(): Obj {
  return {
    tags: ["jobs"],
    operationId: "streamJobEvents",
    summary: "Server-Sent Events of the job",
    description:
      "One `job` event per change (`id:` is the job's version, `data:` a JobView), the current state first; the stream ends after the final state.",
    security: jobSecurity,
    parameters: [paramRef("LastEventId"), paramRef("LastEventIdQuery")],
    responses: {
      200: {
        description: "The event stream.",
        headers: headerRefs([]),
        content: { "text/event-stream": { schema: { type: "string" }, "x-event-data": schemaRef("JobView") } },
      },
      204: { description: "The client has the final state already (EventSource stops).", headers: headerRefs([]) },
      ...readProblems,
    },
  };
}

function probe(summary: string, responses: Obj): Obj {
  return { tags: ["operations"], summary, security: [], responses };
}

const ok = (description: string, schema: string): Obj => ({
  description,
  headers: headerRefs([]),
  content: json(schemaRef(schema)),
});

/** /metrics: open, or with METRICS_TOKEN set, only to a request that sends it. */
function metricsOperation(): Obj {
  const summary = "Prometheus metrics (text exposition format; see README, Metrics).";
  const open = page(summary, "text/plain");
  return {
    ...open,
    tags: ["operations"],
    security: [{ metricsToken: [] }, {}],
    responses: { ...(open.responses as Obj), ...problems({ 401: ["unauthorized"], 403: ["forbidden"] }) },
  };
}

function page(summary: string, type: string): Obj {
  return {
    tags: ["browser"],
    summary,
    security: [],
    responses: { 200: { description: summary, headers: headerRefs([]), content: { [type]: { schema: {} } } } },
  };
}
