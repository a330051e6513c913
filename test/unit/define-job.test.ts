// Issue 9, herald/worker: defineJob checks what it is given, and jobsOf checks what a jobs module
// (`herald worker --jobs`) default-exports, each with an error that says what is wrong.
import { expect } from "chai";
import { defineJob, isJobDefinition, jobsOf, z } from "../../shared/worker/index.ts";

const ctx = { jobId: "j1", attempt: 1, signal: new AbortController().signal, progress: () => undefined };

describe("unit: defineJob and jobsOf (herald/worker)", () => {
  it("defineJob makes a job type with defaults (retry, description, no version) and an async run", async () => {
    const job = defineJob({ name: "echo", payload: z.object({ a: z.int() }), run: ({ a }) => ({ a }) });
    expect(job.type).to.include({ name: "echo", description: "" });
    expect(job.type.version).to.equal(undefined); // the registry then announces a digest
    expect(job.type.retry).to.deep.equal({
      maxAttempts: 3,
      backoffBaseMs: 1_000,
      backoffMaxMs: 60_000,
      timeoutMs: 900_000,
    });
    expect(await job.run({ a: 1 }, ctx)).to.deep.equal({ a: 1 }); // a plain return becomes a promise
    expect(isJobDefinition(job)).to.equal(true);
    expect(Object.isFrozen(job)).to.equal(true);
    const given = defineJob({
      name: "e2",
      payload: z.object({}),
      run: () => 1,
      version: "2",
      retry: { maxAttempts: 1 },
    });
    expect(given.type.version).to.equal("2");
    expect(given.type.retry.maxAttempts).to.equal(1);
  });

  it("defineJob refuses a payload that is not a zod schema, a missing run, a bad name, version or retry", () => {
    const payload = z.object({});
    const run = () => null;
    const bad: [unknown, RegExp][] = [
      [{ name: "x", payload: { type: "object" }, run }, /payload must be a zod schema/],
      [{ name: "x", payload }, /run must be a function/],
      [{ name: "", payload, run }, /name must be a string of 1 to 100 characters/],
      [{ name: "x".repeat(101), payload, run }, /name must be a string of 1 to 100 characters/],
      [{ name: "x", payload, run, version: "" }, /version must be a non-empty string/],
      [{ name: "x", payload, run, retry: { maxAttempts: 0 } }, /invalid retry policy/],
    ];
    for (const [spec, message] of bad) {
      expect(() => defineJob(spec as Parameters<typeof defineJob>[0]), JSON.stringify(spec)).to.throw(
        TypeError,
        message,
      );
    }
  });

  it("jobsOf takes a module's default export: a non-empty array of defineJob values with distinct names", () => {
    const a = defineJob({ name: "a", payload: z.object({}), run: () => null });
    const b = defineJob({ name: "b", payload: z.object({}), run: () => null });
    expect([...jobsOf({ default: [a, b] }, "jobs.mjs").keys()]).to.deep.equal(["a", "b"]);
    const bad: [unknown, RegExp][] = [
      [{}, /jobs.mjs must default-export an array of defineJob\(...\) values, got no default export/],
      [{ default: a }, /must default-export an array .*got object/],
      [{ default: [] }, /jobs.mjs exports no jobs/],
      [{ default: [a, { name: "c", run: () => null }] }, /entry 1 is not a defineJob\(...\) value/],
      [{ default: [a, a] }, /two handlers for job type a/],
    ];
    for (const [module, message] of bad) expect(() => jobsOf(module, "jobs.mjs")).to.throw(TypeError, message);
  });
});
