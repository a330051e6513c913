// pollFastPath takes only plain status URLs; every other request goes on to the router.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Context } from "koa";
import { pollFastPath } from "../../services/api/poll-fast-path.ts";

describe("unit: pollFastPath", () => {
  const id = randomUUID();
  const run = async (method: string, path: string) => {
    const seen: { id?: string; route?: unknown; passed: boolean } = { passed: false };
    const ctx = { method, path } as unknown as Context;
    await pollFastPath(async (c) => {
      seen.id = c.params.id;
      seen.route = (c as { _matchedRoute?: unknown })._matchedRoute;
    })(ctx, async () => {
      seen.passed = true;
    });
    return seen;
  };

  it("hands GET and HEAD of /jobs/{id} to the status handler, with the id and the route", async () => {
    for (const method of ["GET", "HEAD"]) {
      assert.deepEqual(await run(method, `/jobs/${id}`), { id, route: "/jobs/:id", passed: false });
    }
  });

  it("passes everything else on", async () => {
    const others: [string, string][] = [
      ["DELETE", `/jobs/${id}`],
      ["POST", "/jobs"],
      ["GET", "/jobs"],
      ["GET", `/jobs/${id}/`],
      ["GET", `/JOBS/${id}`],
      ["GET", `/jobs/${id}/result`],
      ["GET", `/jobs/${id}/events`],
      ["GET", `/jobs/%34${id.slice(1)}`],
      ["GET", `/admin/jobs/${id}`],
    ];
    for (const [method, path] of others) assert.equal((await run(method, path)).passed, true, `${method} ${path}`);
  });
});
