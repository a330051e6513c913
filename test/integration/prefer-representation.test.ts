// Issue 7 item 16, protocol side: `Prefer: return=representation` gets a succeeded job as 200 (for
// browsers, whose fetch cannot read a 303 it does not follow); without it the 303 stays.
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { bearer, pollToEnd, request, submit } from "../helpers/http.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("issue 7 item 16: the status monitor with Prefer: return=representation", () => {
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  it("answers a succeeded job 200 with the job instead of 303; other answers are unchanged", async () => {
    const base = stack?.baseUrl ?? "";
    const job = await submit(base, "demo", { steps: 1, stepMs: 0 });
    const end = (await pollToEnd(base, job)).at(-1);
    expect(end?.status).to.equal(303);
    const url = `${base}/jobs/${job.id}`;
    const plain = await request<JobView>(url, { headers: { ...bearer(job.token), prefer: "return=representation" } });
    expect(plain.status).to.equal(200);
    expect(plain.headers.get("location")).to.equal(null);
    expect(plain.headers.get("preference-applied")).to.equal("return=representation");
    expect(plain.headers.get("etag")).to.equal(end?.headers.get("etag"));
    expect(plain.body).to.deep.equal(end?.body);
    // A late long poll (old ETag) gets the final state the same way.
    const late = await request<JobView>(url, {
      headers: { ...bearer(job.token), prefer: "wait=5, return=representation", "if-none-match": `"${job.id}.1"` },
    });
    expect(late.status).to.equal(200);
    expect(late.body.status).to.equal("succeeded");
    expect(late.headers.get("preference-applied")).to.equal("return=representation");
  });
});
