// isJobId (the check before every read by URL id) accepts exactly what the JobId schema accepts.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { isJobId, JobId } from "../../shared/jobs/schemas.ts";

describe("unit: isJobId", () => {
  const ids = [
    randomUUID(),
    randomUUID().toUpperCase(),
    "00000000-0000-4000-8000-000000000000",
    "00000000-0000-4000-c000-000000000000", // variant not 8-b
    "00000000-0000-1000-8000-000000000000", // version 1
    "00000000-0000-7000-8000-000000000000", // version 7
    `${randomUUID()}x`,
    ` ${randomUUID()}`,
    `${randomUUID()}\n`,
    randomUUID().replaceAll("-", ""),
    "",
    "../etc/passwd",
  ];
  for (const id of ids)
    it(`agrees with JobId on ${JSON.stringify(id)}`, () => {
      assert.equal(isJobId(id), JobId.safeParse(id).success);
    });

  it("accepts a v4 uuid and refuses others", () => {
    assert.equal(isJobId(randomUUID()), true);
    assert.equal(isJobId("00000000-0000-1000-8000-000000000000"), false);
  });
});
