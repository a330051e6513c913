// The API's payload check against announced JSON Schemas: defaults filled in (on a copy), every
// error reported, a new version (or a schema changed under the same version) compiled anew, and a
// schema ajv cannot compile reported as broken rather than thrown.
import { expect } from "chai";
import { PayloadValidator } from "../../services/api/payload-validator.ts";
import type { StoredJobType } from "../../shared/registry/job-type-registry.ts";

const retry = { maxAttempts: 1, backoffBaseMs: 0, backoffMaxMs: 0, timeoutMs: 1_000 };
const typeOf = (version: string, payload: Record<string, unknown>): StoredJobType => ({
  name: "t",
  version,
  description: "",
  payload,
  retry,
  announcedAt: 0,
});
const v1 = typeOf("1", {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: { n: { type: "integer", minimum: 1, default: 2 }, at: { type: "string", format: "date-time" } },
  additionalProperties: false,
});

describe("unit: payload validator (ajv, JSON Schema 2020-12)", () => {
  it("fills in defaults on a copy and reports every error with its path", async () => {
    const v = new PayloadValidator();
    const sent = {};
    expect(await v.check(v1, sent)).to.deep.equal({ ok: true, payload: { n: 2 } });
    expect(sent).to.deep.equal({});
    const bad = await v.check(v1, { n: 0, at: "yesterday", x: 1 });
    if (bad.ok || !("errors" in bad)) throw new Error("expected errors");
    expect(bad.errors.map((e) => `${e.path} ${e.keyword}`)).to.have.members([
      "/n minimum",
      "/at format",
      " additionalProperties",
    ]);
  });

  it("fills in nested defaults on a deep copy: the payload handed in, arrays and objects in it, stay as they were", async () => {
    const v = new PayloadValidator();
    const nested = typeOf("1", {
      type: "object",
      properties: {
        o: { type: "object", properties: { d: { type: "integer", default: 7 } } },
        list: { type: "array", items: { type: "object", properties: { d: { type: "string", default: "x" } } } },
      },
    });
    const sent = JSON.parse('{"o":{},"list":[{},{"d":"y"}],"n":null,"__proto__":{"p":1}}');
    const before = structuredClone(sent);
    const checked = await v.check(nested, sent);
    if (!checked.ok) throw new Error("expected ok");
    expect(checked.payload).to.deep.equal({
      o: { d: 7 },
      list: [{ d: "x" }, { d: "y" }],
      n: null,
      ["__proto__"]: { p: 1 },
    });
    expect(Object.getPrototypeOf(checked.payload)).to.equal(Object.prototype);
    expect(sent).to.deep.equal(before);
  });

  it("compiles a new version, and a schema changed under the same version, anew", async () => {
    const v = new PayloadValidator();
    expect((await v.check(v1, { n: 5 })).ok).to.equal(true);
    const v2 = typeOf("2", { type: "object", required: ["s"], properties: { s: { type: "string" } } });
    expect((await v.check(v2, { n: 5 })).ok).to.equal(false);
    const sameVersion = typeOf("2", { type: "object", properties: { s: { type: "integer" } } });
    expect((await v.check(sameVersion, { s: 1 })).ok).to.equal(true);
  });

  it("reports a schema it cannot compile as broken; an older draft's $schema tag is read as 2020-12", async () => {
    const v = new PayloadValidator();
    const broken = await v.check(typeOf("1", { type: "object", properties: { n: { type: "nonsense" } } }), {});
    expect(broken).to.have.property("broken").that.is.a("string").and.not.empty;
    const draft7 = typeOf("1", { $schema: "http://json-schema.org/draft-07/schema#", type: "object", required: ["a"] });
    expect(await v.check(draft7, { a: 1 })).to.deep.equal({ ok: true, payload: { a: 1 } });
  });
});
