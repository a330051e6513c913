// The job type registry's pure parts: how a zod type is described for the registry (JSON Schema of
// the input side, a version that changes with the definition), and how a stored announcement from
// any worker is read.
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import { describeJobType } from "../../shared/registry/announce.ts";
import { StoredJobType, sameDefinition, stableJson } from "../../shared/registry/job-type-registry.ts";

const shape = { text: z.string().min(1), times: z.int().min(1).default(2) };

describe("unit: job type registry", () => {
  it("describes a zod type: input-side JSON Schema 2020-12 (defaults optional), its retry policy", () => {
    const d = describeJobType(defineJobType({ name: "t", description: "d", payload: z.strictObject(shape) }));
    expect(d).to.include({ name: "t", description: "d" });
    expect(d.payload).to.include({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" });
    expect(d.payload.required).to.deep.equal(["text"]);
    expect(d.payload.additionalProperties).to.equal(false);
    expect(d.retry).to.deep.equal({ maxAttempts: 3, backoffBaseMs: 1_000, backoffMaxMs: 60_000, timeoutMs: 900_000 });
  });

  it("versions: the given one, else a digest that changes with the schema and only with the definition", () => {
    const v = (payload: z.ZodType, version?: string) =>
      describeJobType(defineJobType({ name: "t", description: "d", payload, ...(version ? { version } : {}) })).version;
    expect(v(z.strictObject(shape), "7")).to.equal("7");
    const digest = v(z.strictObject(shape));
    expect(digest).to.match(/^[0-9a-f]{12}$/);
    expect(v(z.strictObject(shape))).to.equal(digest);
    expect(v(z.strictObject({ ...shape, extra: z.boolean().optional() }))).to.not.equal(digest);
  });

  it("compares definitions by content, not key order or announcement time", () => {
    const a = describeJobType(defineJobType({ name: "t", description: "d", payload: z.strictObject(shape) }));
    const reordered = JSON.parse(stableJson({ ...a, announcedAt: 1 })) as typeof a;
    expect(sameDefinition(a, { ...reordered })).to.equal(true);
    expect(sameDefinition(a, { ...a, version: "other" })).to.equal(false);
    expect(sameDefinition(a, { ...a, retry: { ...a.retry, maxAttempts: 9 } })).to.equal(false);
  });

  it("reads a stored announcement from another language: a numeric version, no description", () => {
    const stored = StoredJobType.parse({
      name: "word-count",
      version: 2,
      payload: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      retry: { maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60000, timeoutMs: 60000 },
      announcedAt: 1_700_000_000_000,
    });
    expect(stored).to.include({ version: "2", description: "" });
    expect(StoredJobType.safeParse({ ...stored, retry: { maxAttempts: 0 } }).success).to.equal(false);
  });
});
