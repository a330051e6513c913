import { sleep } from "../../../shared/backoff.ts";
import { demoJob } from "../../../shared/job-types.ts";
import { handle } from "../handlers.ts";

export const demoHandler = handle(demoJob, async ({ steps, stepMs, fail }, ctx) => {
  const failAt = fail === undefined ? Number.POSITIVE_INFINITY : Math.ceil(steps / 2);
  for (let step = 1; step <= steps; step++) {
    await sleep(stepMs, ctx.signal);
    ctx.progress({
      percent: Math.round((step / steps) * 100),
      message: `step ${step} of ${steps}`,
      etaSeconds: ((steps - step) * stepMs) / 1000,
    });
    if (step >= failAt) throw new Error(fail);
  }
  return { steps };
});
