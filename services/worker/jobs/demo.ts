import { z } from "zod";
import { defineJobType } from "../../../shared/jobs/job-types.ts";
import { sleep } from "../../../shared/queue/backoff.ts";
import { handle, PermanentError } from "../../../shared/worker/handlers.ts";

/** For trying Herald out and for tests: sleeps `stepMs` per step, reports progress, optionally fails. */
export const demoJob = defineJobType({
  name: "demo",
  description:
    "Counts through `steps` steps of `stepMs` ms each. With `fail`, fails for good after half of them; " +
    "with `failAttempts: n`, the first n tries fail (retryably) after half of them.",
  payload: z.strictObject({
    steps: z.int().min(1).max(1000).default(5),
    stepMs: z.int().min(0).max(60_000).default(200),
    fail: z.string().min(1).max(1000).optional(),
    failAttempts: z.int().min(0).max(100).optional(),
  }),
  retry: { maxAttempts: 3, backoffBaseMs: 200, backoffMaxMs: 2_000, timeoutMs: 10 * 60_000 },
});
export type DemoPayload = z.infer<typeof demoJob.payload>;

export const demoHandler = handle(demoJob, async ({ steps, stepMs, fail, failAttempts }, ctx) => {
  const failing = fail !== undefined || ctx.attempt <= (failAttempts ?? 0);
  const failAt = failing ? Math.ceil(steps / 2) : Number.POSITIVE_INFINITY;
  for (let step = 1; step <= steps; step++) {
    await sleep(stepMs, ctx.signal);
    ctx.progress({
      percent: Math.round((step / steps) * 100),
      message: `step ${step} of ${steps}`,
      etaSeconds: ((steps - step) * stepMs) / 1000,
    });
    if (step >= failAt) {
      if (fail !== undefined) throw new PermanentError(fail);
      throw new Error(`attempt ${ctx.attempt} failed on purpose (failAttempts: ${failAttempts})`);
    }
  }
  return { steps };
});
