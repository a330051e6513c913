// isJson answers as ctx.is("application/json") (type-is) does, with or without its shortcut for the
// plain header: media type parameters, case, other types, and a request that has no body.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import Koa from "koa";
import { isJson } from "../../services/api/json-body.ts";

describe("unit: isJson", () => {
  const app = new Koa();
  const ctxWith = (headers: Record<string, string>) =>
    app.createContext(
      { method: "POST", url: "/jobs", headers, socket: {} } as unknown as IncomingMessage,
      { getHeader: () => undefined, setHeader: () => {} } as unknown as ServerResponse,
    );

  it("agrees with ctx.is on every Content-Type and body framing", () => {
    const types = [
      "application/json",
      "application/json; charset=utf-8",
      "Application/JSON",
      "application/jsonx",
      "application/problem+json",
      "text/plain",
      "",
    ];
    const framings: Record<string, string>[] = [
      { "content-length": "12" },
      { "content-length": "0" },
      { "content-length": "twelve" },
      { "transfer-encoding": "chunked" },
      {},
    ];
    for (const type of types) {
      for (const framing of framings) {
        const headers = { ...(type ? { "content-type": type } : {}), ...framing };
        const ctx = ctxWith(headers);
        assert.equal(isJson(ctx), Boolean(ctx.is("application/json")), JSON.stringify(headers));
      }
    }
  });

  it("takes the plain header with a body, and refuses it without one", () => {
    assert.equal(isJson(ctxWith({ "content-type": "application/json", "content-length": "2" })), true);
    assert.equal(isJson(ctxWith({ "content-type": "application/json" })), false);
  });
});
