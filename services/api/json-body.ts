// Reads a JSON request body with a size bound, turning each way it can be wrong into its problem.
import { bodyParser } from "@koa/bodyparser";
import type { Middleware } from "koa";
import { HttpProblem } from "../../shared/jobs/problems.ts";

export function jsonBody(limitBytes: number): Middleware {
  const parse = bodyParser({
    enableTypes: ["json"],
    jsonLimit: limitBytes,
    // Any JSON value parses; a value that is not a job request is then a 422, not a 400.
    jsonStrict: false,
    encoding: "utf-8",
    onError: (err: Error) => {
      throw err;
    },
  });
  return async (ctx, next) => {
    if (!ctx.is("application/json")) {
      throw new HttpProblem("unsupportedMediaType", `got ${ctx.get("Content-Type") || "no Content-Type"}`);
    }
    const declared = Number(ctx.get("Content-Length") || "0");
    if (declared > limitBytes) throw tooLarge(limitBytes);
    try {
      await parse(ctx, async () => {});
    } catch (err) {
      throw fromParseError(err, limitBytes);
    }
    // With jsonStrict off an empty body parses as "": say what it is.
    if ((ctx.request.rawBody ?? "").trim() === "") throw new HttpProblem("invalidJson", "the body is empty");
    await next();
  };
}

const tooLarge = (limit: number) =>
  new HttpProblem("payloadTooLarge", `the body is larger than ${limit} bytes`, { extensions: { limit } });

function fromParseError(err: unknown, limit: number): HttpProblem {
  const e = err as { status?: number; type?: string; message?: string };
  if (e.status === 413 || e.type === "entity.too.large") return tooLarge(limit);
  if (e.status === 415) return new HttpProblem("unsupportedMediaType", e.message ?? "unsupported encoding");
  return new HttpProblem("invalidJson", e.message ?? "could not parse the body");
}
