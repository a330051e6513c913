// shared/store/validated-records.ts: a stored record's text is validated once per content, never
// trusted before it passed the schema.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import { ValidatedRecords } from "../../shared/store/validated-records.ts";

const record = (over: Partial<JobRecord> = {}): JobRecord => ({
  id: randomUUID(),
  type: "demo",
  status: "queued",
  version: 1,
  attempts: 0,
  progress: { percent: 0 },
  tokenHash: "h",
  createdAt: "2026-11-27T12:00:00.000Z",
  updatedAt: "2026-11-27T12:00:00.000Z",
  ...over,
});

describe("unit: validated records", () => {
  it("answers the same text with the record validated before, and new text with a new record", () => {
    const records = new ValidatedRecords();
    const r = record();
    const first = records.parse(r.id, JSON.stringify(r));
    expect(first).to.deep.equal(r);
    expect(records.parse(r.id, JSON.stringify(r))).to.equal(first);
    const next = { ...r, version: 2, status: "running" as const };
    const second = records.parse(r.id, JSON.stringify(next));
    expect(second).to.deep.equal(next);
    expect(second).to.not.equal(first);
  });

  it("strips what the schema strips, and freezes what it hands out", () => {
    const records = new ValidatedRecords();
    const r = record();
    const got = records.parse(r.id, JSON.stringify({ ...r, extra: "x" }));
    expect(got).to.not.have.property("extra");
    expect(Object.isFrozen(got) && Object.isFrozen(got.progress)).to.equal(true);
    expect(() => {
      (got.progress as { percent: number }).percent = 50;
    }).to.throw(TypeError);
  });

  it("rejects invalid text every time: it is never remembered", () => {
    const records = new ValidatedRecords();
    const r = record();
    const bad = JSON.stringify({ ...r, version: 0 });
    expect(() => records.parse(r.id, bad)).to.throw();
    expect(() => records.parse(r.id, bad)).to.throw();
    expect(() => records.parse(r.id, "{")).to.throw(SyntaxError);
  });

  it("never remembers a record stored under another job's id", () => {
    const records = new ValidatedRecords();
    const r = record();
    const other = randomUUID();
    const a = records.parse(other, JSON.stringify(r));
    expect(a.id).to.equal(r.id);
    expect(records.parse(other, JSON.stringify(r))).to.not.equal(a);
  });

  it("keeps at most its limit, dropping the job validated longest ago", () => {
    const records = new ValidatedRecords(2);
    const [a, b, c] = [record(), record(), record()];
    const first = records.parse(a.id, JSON.stringify(a));
    records.parse(b.id, JSON.stringify(b));
    records.parse(c.id, JSON.stringify(c));
    expect(records.parse(a.id, JSON.stringify(a))).to.not.equal(first); // a was dropped
    const cAgain = records.parse(c.id, JSON.stringify(c));
    expect(records.parse(c.id, JSON.stringify(c))).to.equal(cAgain);
  });
});
