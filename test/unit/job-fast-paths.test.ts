// jobFastPaths takes only plain status URLs and the exact submit path; every other request goes on
// to the router.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Context } from "koa";
import { jobFastPaths } from "../../services/api/job-fast-paths.ts";

describe("unit: jobFastPaths", () => {
  const id = randomUUID();
  const run = async (method: string, path: string) => {
    const seen: { handler?: string; params?: unknown; route?: unknown; passed: boolean } = { passed: false };
    const ctx = { method, path } as unknown as Context;
    const handler = (name: string) => async (c: Context) => {
      seen.handler = name;
      seen.params = c.params;
      seen.route = (c as { _matchedRoute?: unknown })._matchedRoute;
    };
    await jobFastPaths({ getStatus: handler("status"), submit: handler("submit") })(ctx, async () => {
      seen.passed = true;
    });
    return seen;
  };

  it("hands GET and HEAD of /jobs/{id} to the status handler, with the id and the route", async () => {
    for (const method of ["GET", "HEAD"]) {
      assert.deepEqual(await run(method, `/jobs/${id}`), {
        handler: "status",
        params: { id },
        route: "/jobs/:id",
        passed: false,
      });
    }
  });

  it("hands POST /jobs to the submit handler, with the route", async () => {
    assert.deepEqual(await run("POST", "/jobs"), { handler: "submit", params: {}, route: "/jobs", passed: false });
  });

  it("passes everything else on", async () => {
    const others: [string, string][] = [
      ["DELETE", `/jobs/${id}`],
      ["POST", "/jobs/"],
      ["POST", "/JOBS"],
      ["POST", "/jobs/x"],
      ["POST", `/jobs/${id}`],
      ["PUT", "/jobs"],
      ["GET", "/jobs"],
      ["GET", `/jobs/${id}/`],
      ["GET", `/JOBS/${id}`],
      ["GET", `/jobs/${id}/result`],
      ["GET", `/jobs/${id}/events`],
      ["GET", `/jobs/%34${id.slice(1)}`],
      ["GET", `/admin/jobs/${id}`],
      ["POST", "/admin/api/dead-letters/replay"],
    ];
    for (const [method, path] of others) assert.equal((await run(method, path)).passed, true, `${method} ${path}`);
  });
});
