// Issue 7 item 3: every write of an attempt is fenced by that attempt. An attempt that lost the job
// (its handler ignored the timeout's AbortSignal; its worker was partitioned from Redis and
// RabbitMQ while another worker took the job over) can neither overwrite the new owner's state,
// nor finish the job, nor release the new owner's lease.
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { type FaultWorker, latch, startFaultWorker } from "../helpers/fault-worker.ts";
import { request, submit } from "../helpers/http.ts";
import { type JobHistory, watchJobHistory } from "../helpers/job-history.ts";
import { pollUntil } from "../helpers/net.ts";
import { REDIS_URL, type Stack, startStack } from "../helpers/stack.ts";

describe("issue 7 item 3: fenced writes of a stale attempt", function () {
  this.timeout(90_000);

  describe("a handler that ignores its AbortSignal after a timeout", () => {
    const stubborn = defineJobType({
      name: "stubborn",
      description: "test: the first attempt runs past its timeout and reports late",
      payload: z.strictObject({}),
      retry: { maxAttempts: 2, timeoutMs: 3_000, backoffBaseMs: 50, backoffMaxMs: 100 },
    });
    const secondStarted = latch();
    const staleReported = latch();
    let stack: Stack | undefined;
    let history: JobHistory | undefined;
    before(async () => {
      stack = await startStack({
        workers: 1,
        handlers: registry([
          handle(stubborn, async (_, ctx) => {
            if (ctx.attempt === 1) {
              // Ignores ctx.signal: still running when attempt 2 has the job.
              await secondStarted.promise;
              ctx.progress({ percent: 99, message: "stale" });
              // Its write is queued behind nothing: a second is ample for it to land (or be refused),
              // and attempt 2 still has two of its three seconds left.
              setTimeout(() => staleReported.open(), 1_000);
              return { attempt: 1 };
            }
            secondStarted.open();
            await staleReported.promise;
            return { attempt: 2 };
          }),
        ]),
      });
      history = await watchJobHistory(REDIS_URL, stack.names);
    });
    after(async () => {
      await history?.close();
      await stack?.close();
    });

    it("its late progress does not land on the next attempt's job, and the next attempt's result stands", async () => {
      if (!stack || !history) throw new Error("setup failed");
      const job = await submit(stack.baseUrl, "stubborn", {});
      const end = await pollUntil(
        async () => {
          const r = await request<JobView>(`${stack?.baseUrl}/jobs/${job.id}`, {
            headers: { authorization: `Bearer ${job.token}` },
            redirect: "manual",
          });
          return r.body.status === "succeeded" || r.body.status === "failed" ? r.body : null;
        },
        { timeoutMs: 30_000, what: "the job to end" },
      );
      expect(end.status).to.equal("succeeded");
      expect(end.attempts).to.equal(2);
      const result = await request(`${stack.baseUrl}/jobs/${job.id}/result`, {
        headers: { authorization: `Bearer ${job.token}` },
      });
      expect(result.body).to.deep.equal({ attempt: 2 });
      const store = new RedisJobStore(stack.redis, stack.names, 3600);
      const final = await store.get(job.id);
      expect(final?.progress.message, "the stale attempt's progress landed").to.not.equal("stale");
      const percents = (history.changes.get(job.id) ?? []).filter((c) => c.attempts === 2).map((c) => c.percent);
      expect(percents, "no change of attempt 2's job shows the stale 99 %").to.not.include(99);
    });
  });

  describe("a worker partitioned from Redis and RabbitMQ while another takes its job over", () => {
    const held = defineJobType({
      name: "held",
      description: "test: runs until the test releases it",
      payload: z.strictObject({}),
      retry: { maxAttempts: 3 },
    });
    const releaseA = latch();
    const releaseB = latch();
    const startedOn: string[] = [];
    const handlerOf = (name: string, release: Promise<void>) =>
      registry([
        handle(held, async () => {
          startedOn.push(name);
          await release;
          return { worker: name };
        }),
      ]);
    let stack: Stack | undefined;
    let a: FaultWorker | undefined;
    let b: FaultWorker | undefined;
    let history: JobHistory | undefined;
    before(async () => {
      stack = await startStack({ workers: 0, handlers: handlerOf("none", new Promise(() => {})), leaseMs: 1_000 });
      history = await watchJobHistory(REDIS_URL, stack.names);
      a = await startFaultWorker({
        names: stack.names,
        handlers: handlerOf("A", releaseA.promise),
        proxyRedis: true,
        proxyAmqp: true,
        leaseMs: 1_000,
      });
    });
    after(async () => {
      releaseA.open();
      releaseB.open();
      await a?.close();
      await b?.close();
      await history?.close();
      await stack?.close();
    });

    it("the old attempt's finish and lease release are refused; the new owner's result stands", async () => {
      if (!stack || !a || !history) throw new Error("setup failed");
      const store = new RedisJobStore(stack.redis, stack.names, 3600);
      const job = await submit(stack.baseUrl, "held", {});
      await pollUntil(() => startedOn.includes("A"), { timeoutMs: 15_000, what: "worker A to start the job" });

      // Partition A: RabbitMQ redelivers its message, and its lease stops being renewed.
      await a.redisProxy?.cut();
      await a.amqpProxy?.cut();
      b = await startFaultWorker({ names: stack.names, handlers: handlerOf("B", releaseB.promise), leaseMs: 1_000 });
      await pollUntil(() => startedOn.includes("B"), { timeoutMs: 30_000, what: "worker B to take the job over" });
      const taken = await store.get(job.id);
      expect(taken?.attempts).to.equal(2);

      // A comes back and its handler finishes: every write of its attempt must be refused.
      a.redisProxy?.resume();
      a.amqpProxy?.resume();
      await pollUntil(() => a?.store.get(job.id).then(() => true), {
        timeoutMs: 20_000,
        what: "A to reach Redis again",
      });
      releaseA.open();
      // A's attempt is over once it says its outcome was dropped, or once its write changed the job.
      const dropped = "the attempt lost the job to another attempt or an ending; its outcome is dropped";
      await pollUntil(
        async () =>
          a?.log.lines.some((l) => l.msg === dropped && l.fields.jobId === job.id) ||
          (await store.get(job.id))?.status !== "running",
        { timeoutMs: 20_000, what: "worker A's attempt to end" },
      );
      const during = await store.get(job.id);
      expect(during?.status, "A's finish landed on B's job").to.equal("running");
      expect(during?.attemptId).to.equal(taken?.attemptId);
      expect(await store.leaseExpiresAt(job.id), "A released B's lease").to.not.equal(null);

      releaseB.open();
      const end = await pollUntil(async () => {
        const r = await store.get(job.id);
        return r?.status === "succeeded" ? r : null;
      });
      const result = await store.getResult(job.id);
      expect(JSON.parse(result ?? "null")).to.deep.equal({ worker: "B" });
      expect(end.attempts).to.equal(2);
      expect(history.succeededCommits(job.id)).to.equal(1);
    });
  });
});
