// parseCreateJobRequest answers as CreateJobRequest.safeParse does (success, and the data on
// success), for the bodies it checks by hand and for those it hands to zod.
import assert from "node:assert/strict";
import { CreateJobRequest, parseCreateJobRequest } from "../../shared/jobs/schemas.ts";

describe("unit: parseCreateJobRequest", () => {
  const nullProto = (o: Record<string, unknown>) => Object.assign(Object.create(null) as object, o);
  const bodies: unknown[] = [
    { type: "demo", payload: { steps: 1, nested: { a: [1, 2] } } },
    { type: "demo", payload: {} },
    { type: "x".repeat(100), payload: {} },
    { type: "x".repeat(101), payload: {} },
    { type: "", payload: {} },
    { type: "demo" },
    { payload: {} },
    { type: 1, payload: {} },
    { type: "demo", payload: null },
    { type: "demo", payload: [] },
    { type: "demo", payload: "x" },
    { type: "demo", payload: new Date(0) },
    { type: "demo", payload: {}, extra: 1 },
    { type: "demo", payload: {}, extra: undefined },
    { type: "demo", extra: 1 },
    nullProto({ type: "demo", payload: {} }),
    { type: "demo", payload: nullProto({ a: 1 }) },
    JSON.parse('{"type":"demo","payload":{"__proto__":{"a":1}}}'),
    [],
    ["demo", {}],
    "demo",
    null,
    42,
    new Map([["type", "demo"]]),
  ];

  it("agrees with zod on every body", () => {
    for (const body of bodies) {
      const ours = parseCreateJobRequest(body);
      const zods = CreateJobRequest.safeParse(body);
      assert.equal(ours.success, zods.success, String(JSON.stringify(body)));
      if (ours.success && zods.success) assert.deepEqual(ours.data, zods.data, JSON.stringify(body));
    }
  });

  it("hands back a copy of the payload, as zod does", () => {
    const body = { type: "demo", payload: { steps: 1 } };
    const parsed = parseCreateJobRequest(body);
    assert.ok(parsed.success);
    assert.notEqual(parsed.data.payload, body.payload);
  });
});
