// Issue 7 item 5: dead-letter replay never moves a job backwards. Only a `failed` job is replayed,
// once however many copies of its message the dead-letter queue holds, and a publish that fails
// after the reset puts the job back as it was (failed) with its letter kept.
import { spawn } from "node:child_process";
import amqp from "amqplib";
import { expect } from "chai";
import { z } from "zod";
import { SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import type { JobMessage, JobView } from "../../shared/jobs/schemas.ts";
import { replayDeadLetters } from "../../shared/queue/dead-letters.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import type { Names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { handle, registry } from "../../shared/worker/handlers.ts";
import { deadLetterIds } from "../helpers/dead-letters.ts";
import { pollToEnd, submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { repoRoot } from "../helpers/processes.ts";
import { AMQP_URL, log, REDIS_URL, type Stack, startStack } from "../helpers/stack.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";

const runs = new Map<string, number>();
let broken = true;
const switchable = defineJobType({
  name: "switchable",
  description: "test: fails while `broken` is set (one attempt only)",
  payload: z.strictObject({ n: z.int().default(0) }),
  retry: { maxAttempts: 1 },
});

const endOf = async (stack: Stack, job: { id: string; token: string }): Promise<JobView> =>
  (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;

/** Puts `copies` copies of a job's message in the dead-letter queue, as further rejections would
 * (over one connection: a connection per copy made the 200 copies below take tens of seconds). */
async function deadLetterCopy(stack: Stack, message: JobMessage, copies = 1): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    const body = Buffer.from(JSON.stringify(message));
    for (let i = 0; i < copies; i++) {
      if (!ch.publish(stack.names.deadLetterExchange, "", body, { persistent: true })) {
        await new Promise((resolve) => ch.once("drain", resolve));
      }
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

function replayAll(namespace: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/dead-letters.ts", "replay", "--all"], {
      cwd: repoRoot,
      env: { ...process.env, HERALD_NAMESPACE: namespace, AMQP_URL, REDIS_URL, LOG_LEVEL: "error" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("issue 7 item 5: dead-letter replay only moves failed jobs forward, once", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack({
      workers: 1,
      handlers: registry([
        handle(switchable, async (_, ctx) => {
          runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
          if (broken) throw new Error("broken");
          return { ok: true };
        }),
      ]),
    });
  });
  after(async () => {
    await stack?.close();
  });

  it("`replay --all` replays a failed job once although its letter is there twice, and leaves a succeeded job's letter alone", async () => {
    if (!stack) throw new Error("setup failed");
    broken = true;
    const failed = await submit(stack.baseUrl, "switchable", { n: 1 });
    expect((await endOf(stack, failed)).status).to.equal("failed");
    await deadLetterCopy(stack, { v: 1, jobId: failed.id, type: "switchable", payload: { n: 1 } });
    broken = false;
    const done = await submit(stack.baseUrl, "switchable", { n: 2 });
    expect((await endOf(stack, done)).status).to.equal("succeeded");
    await deadLetterCopy(stack, { v: 1, jobId: done.id, type: "switchable", payload: { n: 2 } });
    const before = await deadLetterIds(stack.names);
    expect(before.filter((id) => id === failed.id)).to.have.length(2);

    const replay = await replayAll(stack.names.namespace);
    expect(replay.code, replay.stderr).to.equal(0);
    const report = JSON.parse(replay.stdout) as { replayed: string[]; dropped: string[]; kept: { jobId: string }[] };
    expect(report.replayed).to.deep.equal([failed.id]);
    expect(report.dropped).to.deep.equal([failed.id]);
    expect(report.kept.map((k) => k.jobId)).to.deep.equal([done.id]);

    const revived = await endOf(stack, failed);
    expect(revived.status).to.equal("succeeded");
    expect(runs.get(failed.id), "the failed job ran once more, not twice").to.equal(2);
    expect(runs.get(done.id), "the succeeded job did not run again").to.equal(1);
    const after = await deadLetterIds(stack.names);
    expect(after).to.deep.equal([done.id]);
  });

  it("a publish that fails after the reset puts the job back to failed and keeps its letter", async () => {
    if (!stack) throw new Error("setup failed");
    broken = true;
    const job = await submit(stack.baseUrl, "switchable", { n: 3 });
    const failedView = await endOf(stack, job);
    expect(failedView.status).to.equal("failed");
    const store = new RedisJobStore(stack.redis, stack.names, 3600);

    // The replay's queue connection goes through a proxy that is cut before it publishes.
    const proxy = await startTcpProxy({ port: 5672 });
    let queue: RabbitJobQueue | undefined;
    let conn: Awaited<ReturnType<typeof amqp.connect>> | undefined;
    try {
      queue = await RabbitJobQueue.connect({
        url: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
        names: stack.names,
        log,
        connectTimeoutMs: 5_000,
        publishTimeoutMs: 1_000,
      });
      conn = await amqp.connect(AMQP_URL);
      await proxy.cut();
      const ch = await conn.createChannel();
      const report = await replayDeadLetters(
        { ch, names: stack.names, queue, store, events: new SocketIoJobEvents(stack.redis, stack.names) },
        new Set([job.id]),
      );
      await ch.close();
      expect(report.replayed).to.deep.equal([]);
      expect(report.kept.map((k) => k.jobId)).to.deep.equal([job.id]);
      const after = await store.get(job.id);
      expect(after?.status).to.equal("failed");
      expect(after?.error?.detail).to.equal("broken");
      expect(after?.attempts).to.equal(1);
      expect(await deadLetterIds(stack.names)).to.include(job.id);
    } finally {
      await conn?.close().catch(() => undefined);
      await queue?.close().catch(() => undefined);
      await proxy.close();
    }
  });

  it("a job that fails again at once during the replay keeps its new letter (only the letters present are read)", async () => {
    if (!stack) throw new Error("setup failed");
    broken = true;
    const job = await submit(stack.baseUrl, "switchable", { n: 4 });
    expect((await endOf(stack, job)).status).to.equal("failed");
    // Letters of a job that is gone, behind this one: the replay still reads them when the
    // replayed job has failed again and its new letter has arrived.
    const { record } = newJob("switchable");
    await deadLetterCopy(stack, { v: 1, jobId: record.id, type: "switchable", payload: { n: 5 } }, 200);
    const replay = await replayAll(stack.names.namespace);
    expect(replay.code, replay.stderr).to.equal(0);
    const report = JSON.parse(replay.stdout) as { replayed: string[]; dropped: string[] };
    expect(report.replayed).to.include(job.id);
    expect(report.dropped, "the new letter was taken for a copy").to.not.include(job.id);
    expect((await endOf(stack, job)).status).to.equal("failed");
    await pollUntil(async () => (await deadLetterIds(stack?.names as Names)).includes(job.id), {
      timeoutMs: 20_000,
      what: "the job's new letter in the dead-letter queue",
    });
  });
});
