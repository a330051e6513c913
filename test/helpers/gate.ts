// A job type whose handler does nothing until the test says so. The test then knows the job's
// version at every moment (nothing races it), and decides what the next change is: tests of long
// polls, SSE and expiry await that change instead of hoping the job's own timing cooperates.
//
//   const gate = new Gate();
//   const stack = await startStack({ handlers: registry([demoHandler, gate.handler]) });
//   const job = await submit(stack.baseUrl, "gated", {});
//   await gate.started(job.id);          // running now; nothing changes until…
//   gate.progress(job.id, 50);           // …the next version is this progress report
//   gate.finish(job.id, { ok: true });   // and then `succeeded`
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import { type HandlerContext, handle, type RegisteredHandler } from "../../shared/worker/handlers.ts";

export const gatedJob = defineJobType({
  name: "gated",
  description: "test: waits for the test's word before each step",
  payload: z.strictObject({}),
  retry: { maxAttempts: 1 },
});

type Step =
  | { kind: "progress"; percent: number; message?: string }
  | { kind: "finish"; result: unknown }
  | { kind: "fail"; message: string };

interface Slot {
  steps: Step[];
  wake: (() => void) | null;
  started: Promise<number>;
  markStarted: (attempt: number) => void;
  runs: number;
}

export class Gate {
  readonly handler: RegisteredHandler = handle(gatedJob, (_, ctx) => this.run(ctx));
  private readonly slots = new Map<string, Slot>();

  /** Resolves with the attempt number once the handler runs for `jobId` (its `running` state is committed). */
  started(jobId: string): Promise<number> {
    return this.slot(jobId).started;
  }

  /** How many times the handler started for `jobId`. */
  runs(jobId: string): number {
    return this.slots.get(jobId)?.runs ?? 0;
  }

  progress(jobId: string, percent: number, message?: string): void {
    this.push(jobId, { kind: "progress", percent, ...(message === undefined ? {} : { message }) });
  }

  finish(jobId: string, result: unknown = { ok: true }): void {
    this.push(jobId, { kind: "finish", result });
  }

  fail(jobId: string, message: string): void {
    this.push(jobId, { kind: "fail", message });
  }

  private async run(ctx: HandlerContext): Promise<unknown> {
    const slot = this.slot(ctx.jobId);
    slot.runs++;
    slot.markStarted(ctx.attempt);
    for (;;) {
      const step = await this.next(slot, ctx.signal);
      if (step.kind === "progress") {
        ctx.progress({ percent: step.percent, ...(step.message === undefined ? {} : { message: step.message }) });
        continue;
      }
      if (step.kind === "fail") throw new Error(step.message);
      return step.result;
    }
  }

  private next(slot: Slot, signal: AbortSignal): Promise<Step> {
    return new Promise((resolve, reject) => {
      const take = () => {
        const step = slot.steps.shift();
        if (!step) return false;
        slot.wake = null;
        signal.removeEventListener("abort", onAbort);
        resolve(step);
        return true;
      };
      const onAbort = () => {
        slot.wake = null;
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      if (take()) return;
      signal.addEventListener("abort", onAbort, { once: true });
      slot.wake = () => void take();
    });
  }

  private push(jobId: string, step: Step): void {
    const slot = this.slot(jobId);
    slot.steps.push(step);
    slot.wake?.();
  }

  private slot(jobId: string): Slot {
    let slot = this.slots.get(jobId);
    if (!slot) {
      let markStarted: (attempt: number) => void = () => {};
      const started = new Promise<number>((resolve) => {
        markStarted = resolve;
      });
      slot = { steps: [], wake: null, started, markStarted, runs: 0 };
      this.slots.set(jobId, slot);
    }
    return slot;
  }
}
