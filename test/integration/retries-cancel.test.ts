// Issue 4, in-process against the real brokers: retries through RabbitMQ retry queues, dead
// letters and their replay, timeouts, permanent errors, cancellation, duplicates, leases.
import { spawn } from "node:child_process";
import { expect } from "chai";
import { z } from "zod";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { sleep } from "../../shared/queue/backoff.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, PermanentError, registry } from "../../shared/worker/handlers.ts";
import { deadLetterIds } from "../helpers/dead-letters.ts";
import { bearer, getStatus, isRunning, pollToEnd, request, submit, waitForStatus } from "../helpers/http.ts";
import { collectJobEvents, connectSocket, readSse } from "../helpers/realtime.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const runs = new Map<string, number>();
const aborted = new Set<string>();
let flakyBroken = true;

const flakyJob = defineJobType({
  name: "flaky",
  description: "test: fails while `flakyBroken` is set",
  payload: z.strictObject({}),
  retry: { maxAttempts: 2, backoffBaseMs: 100, backoffMaxMs: 200 },
});
const slowJob = defineJobType({
  name: "ignores-signal",
  description: "test: runs past its timeout without looking at its signal",
  payload: z.strictObject({}),
  retry: { maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 100, timeoutMs: 300 },
});
const waitJob = defineJobType({
  name: "wait-for-abort",
  description: "test: runs until aborted or 5 s",
  payload: z.strictObject({ ms: z.int().default(5_000) }),
});
const permanentJob = defineJobType({
  name: "permanent",
  description: "test: fails with a PermanentError",
  payload: z.strictObject({}),
});

const count = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);
const handlers = registry([
  demoHandler,
  handle(flakyJob, async (_, ctx) => {
    count(ctx.jobId);
    if (flakyBroken) throw new Error("upstream is down");
    return { ok: true };
  }),
  handle(slowJob, async (_, ctx) => {
    count(ctx.jobId);
    ctx.signal.addEventListener("abort", () => aborted.add(ctx.jobId));
    await sleep(1_500); // deliberately ignores ctx.signal
    return "too late";
  }),
  handle(waitJob, async ({ ms }, ctx) => {
    count(ctx.jobId);
    ctx.progress({ percent: 10, message: "waiting" });
    try {
      await sleep(ms, ctx.signal);
    } catch (err) {
      aborted.add(ctx.jobId);
      throw err;
    }
    return "waited";
  }),
  handle(permanentJob, async (_, ctx) => {
    count(ctx.jobId);
    throw new PermanentError("the input can never work");
  }),
]);

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/dead-letters.ts", ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("retries, dead letters, timeouts, cancellation", function () {
  this.timeout(30_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ handlers, workers: 2, prefetch: 2, leaseMs: 600, stallTimeoutMs: 800, env: noLimits });
  });
  after(() => stack?.close());

  it("a retryable failure is retried after a backoff, through RabbitMQ, until it succeeds", async () => {
    const job = await submit(stack.baseUrl, "demo", { steps: 2, stepMs: 100, failAttempts: 2 });
    // The SSE stream carries every change, so the wait for the retry is seen however slow the machine.
    const sse = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(job.token), { timeoutMs: 25_000 });
    expect(sse.ended).to.equal(true);
    const seen = sse.events.map((e) => e.view);
    const end = seen.at(-1) as JobView;
    expect(end.status).to.equal("succeeded");
    expect(end.attempts).to.equal(3);
    const waiting = seen.find((v) => v.status === "queued" && v.retryAt);
    expect(waiting, "the job waited for its retry").to.not.equal(undefined);
    expect(waiting?.error?.detail).to.match(/^attempt \d failed on purpose/);
    expect(end.error).to.equal(undefined, "success clears the last attempt's error");
  });

  it("after the last attempt the job fails with the attempt count and the message is dead-lettered; replay revives it", async () => {
    flakyBroken = true;
    const job = await submit(stack.baseUrl, "flaky", {});
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
    expect(end.status).to.equal("failed");
    expect(end.attempts).to.equal(2);
    expect(end.error).to.include({ type: "urn:herald:problem:job-failed", detail: "upstream is down", attempts: 2 });
    expect(runs.get(job.id)).to.equal(2);
    expect(await deadLetterIds(stack.names)).to.include(job.id);

    const listed = await runCli(["list"], { HERALD_NAMESPACE: stack.names.namespace });
    expect(listed.code).to.equal(0, listed.stderr);
    expect(JSON.parse(listed.stdout).messages.map((m: { jobId: string }) => m.jobId)).to.include(job.id);

    flakyBroken = false; // the operator fixed the cause
    const replay = await runCli(["replay", job.id], { HERALD_NAMESPACE: stack.names.namespace });
    expect(replay.code).to.equal(0, replay.stderr);
    expect(JSON.parse(replay.stdout).replayed).to.deep.equal([job.id]);
    const revived = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
    expect(revived.status).to.equal("succeeded");
    expect(revived.attempts).to.equal(1, "a replay starts a fresh set of attempts");
    expect(await deadLetterIds(stack.names)).to.not.include(job.id);
  });

  it("a PermanentError fails the job at once: no retry; its message is kept as a dead letter", async () => {
    const job = await submit(stack.baseUrl, "permanent", {});
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
    expect(end.status).to.equal("failed");
    expect(end.attempts).to.equal(1);
    expect(runs.get(job.id)).to.equal(1);
    // Every failed job keeps its message in the dead-letter queue, so an operator can replay it.
    expect(await deadLetterIds(stack.names)).to.include(job.id);
  });

  it("a handler over its timeoutMs is aborted and the attempt counts as failed", async () => {
    const job = await submit(stack.baseUrl, "ignores-signal", {});
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
    expect(end.status).to.equal("failed");
    expect(end.error?.type).to.equal("urn:herald:problem:job-timeout");
    expect(end.attempts).to.equal(2);
    expect(aborted.has(job.id)).to.equal(true, "its AbortSignal fired");
  });

  it("DELETE on a running job aborts its handler on the worker; it ends canceled, as an event too", async () => {
    const socket = await connectSocket(stack.baseUrl);
    try {
      const job = await submit(stack.baseUrl, "wait-for-abort", { ms: 10_000 });
      const events = collectJobEvents(socket, job.id);
      await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
      await waitForStatus(stack.baseUrl, job, isRunning, { what: "running" });
      const del = await request<JobView>(`${stack.baseUrl}/jobs/${job.id}`, {
        method: "DELETE",
        headers: bearer(job.token),
      });
      expect(del.status).to.equal(202);
      expect(del.body.cancelRequested).to.equal(true);
      const end = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
      expect(end.status).to.equal("canceled");
      expect(aborted.has(job.id)).to.equal(true);
      expect((await events).at(-1)?.status).to.equal("canceled");
      const again = await request<{ type: string; jobStatus: string }>(`${stack.baseUrl}/jobs/${job.id}`, {
        method: "DELETE",
        headers: bearer(job.token),
      });
      expect(again.status).to.equal(409);
      expect(again.body).to.include({ type: "urn:herald:problem:job-finished", jobStatus: "canceled" });
    } finally {
      socket.close();
    }
  });

  it("DELETE on a queued job cancels it at once; its message is skipped when dequeued", async () => {
    // Fill every worker slot (2 workers × prefetch 2) so the next job stays queued until the test
    // ends the blockers (they would run for a minute).
    const blockers = await Promise.all([1, 2, 3, 4].map(() => submit(stack.baseUrl, "wait-for-abort", { ms: 60_000 })));
    for (const b of blockers) await waitForStatus(stack.baseUrl, b, isRunning, { what: "a blocker running" });
    const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
    const del = await request<JobView>(`${stack.baseUrl}/jobs/${job.id}`, {
      method: "DELETE",
      headers: bearer(job.token),
    });
    expect(del.status).to.equal(200);
    expect(del.body.status).to.equal("canceled");
    for (const b of blockers)
      await request(`${stack.baseUrl}/jobs/${b.id}`, { method: "DELETE", headers: bearer(b.token) });
    for (const b of blockers) await pollToEnd(stack.baseUrl, b);
    // A job queued behind it: once it has run, the canceled job's message (ahead of it) was dequeued.
    await pollToEnd(stack.baseUrl, await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 }));
    const after = await getStatus(stack.baseUrl, job);
    expect(after.body.status).to.equal("canceled");
    expect(after.body.version).to.equal(del.body.version, "nothing moved it after the cancel");
    expect(after.body.attempts).to.equal(0);
  });

  it("DELETE on a finished job is a 409 with its state; without its token a 401/404", async () => {
    const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
    await pollToEnd(stack.baseUrl, job);
    const res = await request<{ type: string; job: JobView }>(`${stack.baseUrl}/jobs/${job.id}`, {
      method: "DELETE",
      headers: bearer(job.token),
    });
    expect(res.status).to.equal(409);
    expect(res.body.job.status).to.equal("succeeded");
    expect((await request(`${stack.baseUrl}/jobs/${job.id}`, { method: "DELETE" })).status).to.equal(401);
    const other = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
    const foreign = await request(`${stack.baseUrl}/jobs/${job.id}`, {
      method: "DELETE",
      headers: bearer(other.token),
    });
    expect(foreign.status).to.equal(404);
  });

  it("a duplicate message for a finished job is acked and ignored (CAS on version)", async () => {
    const job = await submit(stack.baseUrl, "flaky", {});
    flakyBroken = false;
    const end = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
    expect(end.status).to.equal("succeeded");
    await stack.apiQueue.publish({ v: 1, jobId: job.id, type: "flaky", payload: {} });
    // A marker job submitted after the duplicate; once it is done the duplicate has been consumed.
    const marker = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
    await pollToEnd(stack.baseUrl, marker);
    await pollToEnd(stack.baseUrl, await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 }));
    expect(await stack.apiQueue.depth()).to.equal(0, "the duplicate was consumed");
    const after = await getStatus(stack.baseUrl, job);
    expect(after.body.version).to.equal(end.version);
    expect(runs.get(job.id)).to.equal(1);
  });

  it("a stale write loses: commit refuses a version that is not current + 1", async () => {
    const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
    await pollToEnd(stack.baseUrl, job);
    const store = new RedisJobStore(stack.redis, stack.names, 3600);
    const current = await store.get(job.id);
    if (!current) throw new Error("job missing");
    // A writer that read an older version (or skips ahead) cannot overwrite the newer state.
    expect(await store.commit({ ...current, status: "failed", version: current.version })).to.equal("conflict");
    expect(await store.commit({ ...current, status: "failed", version: current.version + 2 })).to.equal("conflict");
    expect((await store.get(job.id))?.status).to.equal("succeeded");
  });

  it("a running job whose worker vanished shows as stalled, then ends failed (worker-lost)", async () => {
    const store = new RedisJobStore(stack.redis, stack.names, 3600);
    const job = await submit(stack.baseUrl, "wait-for-abort", { ms: 5_000 });
    const status = await waitForStatus(stack.baseUrl, job, isRunning, { what: "running" });
    // Pretend its worker died silently: the job is forgotten locally and its lease lapses.
    const record = await store.get(job.id);
    if (!record) throw new Error("job missing");
    const ghost = { ...record, id: crypto.randomUUID(), version: 1 };
    await store.create(ghost);
    await store.commit({ ...ghost, version: 2, status: "running", attempts: 1 });
    await store.holdLease(ghost.id, -1_000); // its lease ran out a second ago
    const seen = await request<JobView>(`${stack.baseUrl}/jobs/${ghost.id}`, {
      headers: bearer(job.token), // the ghost shares the token hash
    });
    expect(seen.body.status).to.equal("running");
    expect(seen.body.stalled).to.equal(true);
    expect(status.body.stalled).to.equal(undefined, "a healthy running job is not stalled");
    const end = (await pollToEnd(stack.baseUrl, { id: ghost.id, token: job.token })).at(-1)?.body as JobView;
    expect(end.status).to.equal("failed");
    expect(end.error?.type).to.equal("urn:herald:problem:worker-lost");
    await request(`${stack.baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
  });
});
