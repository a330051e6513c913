// Issue 9, herald/worker: `startWorker` runs a worker inside the caller's process, configured from
// the environment it is given, with the caller's `defineJob` types. The running API (no worker of
// its own) learns the type from the registry; `stop()` withdraws it and may be called twice.
import { expect } from "chai";
import { registry } from "../../shared/worker/handlers.ts";
import { defineJob, type RunningWorker, startWorker, z } from "../../shared/worker/index.ts";
import { bearer, pollToEnd, request, submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { AMQP_URL, noLimits, REDIS_URL, type Stack, startStack } from "../helpers/stack.ts";

interface Listed {
  jobTypes: { name: string; version: string; liveWorkers: number }[];
}

describe("issue 9: startWorker (herald/worker) in the caller's own process", function () {
  this.timeout(30_000);
  let stack: Stack | undefined;
  let worker: RunningWorker | undefined;

  before(async () => {
    stack = await startStack({ workers: 0, handlers: registry([]), env: noLimits });
  });
  after(async () => {
    await worker?.stop();
    await stack?.close();
  });

  const listed = async (name: string) => {
    const { body } = await request<Listed>(`${stack?.baseUrl}/job-types`);
    return body.jobTypes.find((t) => t.name === name);
  };

  it("serves a defineJob type from the given environment; the API learns it; stop() (twice) withdraws it", async () => {
    const base = stack?.baseUrl ?? "";
    const shout = defineJob({
      name: "shout",
      version: "7",
      payload: z.object({ text: z.string(), times: z.int().min(1).default(2) }),
      run: ({ text, times }, ctx) => {
        ctx.progress({ percent: 50, message: "shouting" });
        return { text: text.toUpperCase().repeat(times), attempt: ctx.attempt, jobId: ctx.jobId };
      },
    });
    const env = { AMQP_URL, REDIS_URL, HERALD_NAMESPACE: stack?.names.namespace, LOG_LEVEL: "silent" };
    worker = await startWorker({ jobs: [shout], env, tracing: false }); // the test process's tracing is not its to set
    expect(worker.jobTypes).to.deep.equal(["shout"]);
    expect(worker.config.namespace).to.equal(stack?.names.namespace);
    await pollUntil(async () => (await listed("shout"))?.liveWorkers === 1, {
      timeoutMs: 10_000,
      what: "the API to list shout with one live worker",
    });
    expect((await listed("shout"))?.version).to.equal("7");

    const job = await submit(base, "shout", { text: "hi" });
    const last = (await pollToEnd(base, job)).at(-1)?.body;
    expect(last?.status).to.equal("succeeded");
    const result = await request(`${base}/jobs/${job.id}/result`, { headers: bearer(job.token) });
    expect(result.body).to.deep.equal({ text: "HIHI", attempt: 1, jobId: job.id });

    await Promise.all([worker.stop(), worker.stop()]);
    expect((await listed("shout"))?.liveWorkers, "withdrawn on stop").to.equal(0);
  });

  it("refuses what is not a job: no jobs, or an invalid environment (before connecting anything)", async () => {
    const noop = defineJob({ name: "noop", payload: z.object({}), run: () => null });
    await expectRejection(startWorker({ jobs: [] }), /no jobs given/);
    await expectRejection(startWorker({ jobs: [noop], env: { PORT: "not a port" } }), /PORT/);
  });
});

async function expectRejection(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "rejected").to.be.instanceOf(Error);
  expect((err as Error).message).to.match(message);
}
