// The operator API (/admin, admin-routes.ts) in the OpenAPI document: its paths, query
// parameters and answers. Bodies and query fields come from the zod schemas the routes use; the
// `limit` bounds from their constants, so the document follows the routes.
import { z } from "zod";
import { JobsQuery, maxDeadLetters, maxJobs } from "./admin-routes.ts";
import { headerRefs, problemResponse, problems } from "./openapi-parts.ts";
import { schemaRef } from "./openapi-schemas.ts";

type Obj = Record<string, unknown>;

const json = (schema: Obj): Obj => ({ "application/json": { schema } });
const security = [{ adminToken: [] }];

/** A field of JobsQuery as a query parameter's schema (input side: what the API accepts). */
const field = (name: "status" | "type" | "id"): Obj => {
  const s = z.toJSONSchema(JobsQuery.shape[name].unwrap(), { io: "input", target: "draft-2020-12" }) as Obj;
  delete s.$schema;
  return s;
};

const limit = (max: number, fallback: number): Obj => ({
  name: "limit",
  in: "query",
  description: `At most this many (1 to ${max}; default ${fallback}).`,
  schema: { type: "integer", minimum: 1, maximum: max, default: fallback },
});

/** Every operator call: 404 while ADMIN_TOKEN is unset (the detail says how to enable it). */
const common = problems({
  401: ["unauthorized"],
  403: ["forbidden"],
  404: ["notFound"],
  500: ["internal"],
});

export const adminTag = {
  name: "admin",
  description:
    "The operator page and its JSON API. They exist only when ADMIN_TOKEN is set (else 404); every API call needs it as `Authorization: Bearer`.",
};

export function adminPaths(): Record<string, Obj> {
  const page = (description: string, required: string[] = []): Obj => ({
    description,
    headers: headerRefs(required),
    content: { "text/html": { schema: { type: "string" } } },
  });
  return {
    "/admin": {
      get: {
        tags: ["admin"],
        operationId: "adminPage",
        summary: "The operator page (HTML; it asks for the token and keeps it in sessionStorage)",
        security: [...security, {}],
        responses: {
          200: page("The page, with the right token."),
          401: page("No token: the page with its login form.", ["WWW-Authenticate"]),
          403: page("A wrong token: the page with its login form."),
          404: common[404],
        },
      },
    },
    "/admin/api/jobs": {
      get: {
        tags: ["admin"],
        operationId: "adminListJobs",
        summary: "Recent jobs, newest first, by status, type or id",
        description: "From the index of the newest 10,000 jobs; expired jobs are left out.",
        security,
        parameters: [
          { name: "status", in: "query", schema: field("status") },
          { name: "type", in: "query", description: "A job type name.", schema: field("type") },
          { name: "id", in: "query", description: "One job's id.", schema: field("id") },
          limit(maxJobs, 50),
        ],
        responses: {
          200: ok(schemaRef("AdminJobList")),
          ...problems({ 400: ["invalidParameters"] }),
          ...common,
          503: problemResponse(503, ["storeUnavailable"], []),
        },
      },
    },
    "/admin/api/stats": {
      get: {
        tags: ["admin"],
        operationId: "adminStats",
        summary: "Queue depth, dead-letter count, and jobs accepted, succeeded and failed in the last minute",
        security,
        responses: {
          200: ok(schemaRef("AdminStats")),
          ...problems({ 400: ["invalidParameters"] }),
          ...common,
          503: problemResponse(503, ["storeUnavailable"], []),
        },
      },
    },
    "/admin/api/dead-letters": {
      get: {
        tags: ["admin"],
        operationId: "adminListDeadLetters",
        summary: "The dead-letter queue: its size and its first messages (left in place)",
        security,
        parameters: [limit(maxDeadLetters, maxDeadLetters)],
        responses: {
          200: ok(schemaRef("DeadLetterList")),
          ...problems({ 400: ["invalidParameters"] }),
          ...common,
          503: problemResponse(503, ["brokerUnavailable"], []),
        },
      },
    },
    "/admin/api/dead-letters/replay": {
      post: {
        tags: ["admin"],
        operationId: "adminReplayDeadLetters",
        summary: "Replay dead letters (all, or those of the given jobs): each failed job is reset to queued once",
        security,
        requestBody: { required: true, content: json(schemaRef("ReplayRequest")) },
        responses: {
          200: ok(schemaRef("ReplayReport")),
          ...problems({
            400: ["invalidJson", "invalidParameters"],
            413: ["payloadTooLarge"],
            415: ["unsupportedMediaType"],
          }),
          ...common,
          503: problemResponse(503, ["brokerUnavailable", "storeUnavailable"], []),
        },
      },
    },
  };
}

const ok = (schema: Obj): Obj => ({
  description: "The answer (never cached: `Cache-Control: no-store`).",
  headers: headerRefs([]),
  content: json(schema),
});
