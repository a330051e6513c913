import { demoJob } from "../../../shared/jobs/job-types.ts";
import { sleep } from "../../../shared/queue/backoff.ts";
import { handle, PermanentError } from "../../../shared/worker/handlers.ts";

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
