// Issue 9, "Workers in another language": the real `python3 examples/python-worker/worker.py` process
// (Debian's python3-pika and python3-redis) against a real API on the local RabbitMQ and Redis, with no
// TypeScript worker. The API learns `word-count` from the Python worker's registry announcement; its
// jobs are followed over Socket.IO and SSE like any other; a retryable failure goes through a retry
// tier, a permanent one ends failed with its message dead-lettered; DELETE cancels a running job; and
// after a kill -9 mid-job a restarted worker finishes the job, exactly once.
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { bearer, request, submit } from "../helpers/http.ts";
import { watchJobHistory } from "../helpers/job-history.ts";
import { pollUntil } from "../helpers/net.ts";
import { killAll, type Spawned } from "../helpers/processes.ts";
import { startPythonWorker } from "../helpers/python-worker.ts";
import { collectJobEvents, connectSocket, dedupe, readSse } from "../helpers/realtime.ts";
import { AMQP_URL, noLimits, REDIS_URL, type Stack, startStack } from "../helpers/stack.ts";

const LEASE_MS = 2_000;
const CHUNK_WORDS = 100;
const CHUNK_DELAY_MS = 100;

/** A text of `n` words: `n / CHUNK_WORDS` chunks, CHUNK_DELAY_MS apart. */
const words = (n: number): string => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

interface JobTypeEntry {
  name: string;
  version: string;
  payload: Record<string, unknown>;
  liveWorkers: number;
}

describe("e2e: a worker in Python (examples/python-worker)", function () {
  this.timeout(180_000);
  let stack: Stack | undefined;
  const workers: Spawned[] = [];

  const s = (): Stack => {
    if (!stack) throw new Error("setup failed");
    return stack;
  };

  async function startWorker(): Promise<Spawned> {
    const p = await startPythonWorker({
      AMQP_URL,
      REDIS_URL,
      HERALD_NAMESPACE: s().names.namespace,
      LEASE_MS: String(LEASE_MS),
      SHUTDOWN_GRACE_MS: "2000",
      WORD_COUNT_CHUNK_WORDS: String(CHUNK_WORDS),
      WORD_COUNT_CHUNK_DELAY_MS: String(CHUNK_DELAY_MS),
    });
    workers.push(p);
    return p;
  }

  async function wordCountType(): Promise<JobTypeEntry | undefined> {
    const reply = await request<{ jobTypes: JobTypeEntry[] }>(`${s().baseUrl}/job-types`);
    return reply.body.jobTypes?.find((t) => t.name === "word-count");
  }

  before(async () => {
    // No TypeScript worker: the Python process is the only consumer of this namespace.
    stack = await startStack({ workers: 0, leaseMs: LEASE_MS, env: noLimits });
    await startWorker();
  });
  after(async () => {
    for (const p of workers) await killAll(p);
    await stack?.close();
  });

  it("announces word-count in the registry: the API lists it with a live worker", async () => {
    const type = await pollUntil(
      async () => {
        const t = await wordCountType();
        return t && t.liveWorkers > 0 ? t : undefined;
      },
      { timeoutMs: 20_000, what: "word-count with a live worker in GET /job-types" },
    );
    expect(type).to.include({ name: "word-count", version: "1" });
    expect(type?.payload).to.deep.include({ type: "object", required: ["text"] });
    // The payload schema is the Python worker's: the API refuses what it does not allow.
    const bad = await request(`${s().baseUrl}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "word-count", payload: { text: 42 } }),
    });
    expect(bad.status).to.equal(422);
  });

  it("runs word-count: progress and the result over Socket.IO and SSE", async () => {
    const n = 3_000; // 30 chunks
    const socket = await connectSocket(s().baseUrl);
    try {
      const job = await submit(s().baseUrl, "word-count", { text: words(n) });
      const events = collectJobEvents(socket, job.id, 60_000);
      const sse = readSse(`${s().baseUrl}/jobs/${job.id}/events`, bearer(job.token), { timeoutMs: 60_000 });
      const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
      expect(reply.ok, JSON.stringify(reply)).to.equal(true);

      const seen = dedupe(await events);
      const last = seen.at(-1) as JobView;
      expect(last).to.include({ status: "succeeded", attempts: 1, resultUrl: `/jobs/${job.id}/result` });
      const progress = seen.filter((v) => v.status === "running" && v.progress.percent > 0 && v.progress.percent < 100);
      expect(progress.length, "progress events over Socket.IO").to.be.greaterThan(1);
      const percents = progress.map((v) => v.progress.percent);
      expect(percents).to.deep.equal([...percents].sort((a, b) => a - b));
      expect(progress.at(-1)?.progress.message).to.match(/^\d+ of 3000 words$/);

      const stream = await sse;
      expect(stream.status).to.equal(200);
      expect(stream.events.at(-1)?.view).to.include({ status: "succeeded", version: last.version });
      expect(
        stream.events.filter((e) => e.view.status === "running" && e.view.progress.percent > 0).length,
      ).to.be.greaterThan(1);

      const result = await request(`${s().baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.status).to.equal(200);
      expect(result.body).to.deep.equal({ words: n });
    } finally {
      socket.close();
    }
  });

  it("retries a retryable failure through a retry tier, and fails a permanent one for good", async () => {
    const socket = await connectSocket(s().baseUrl);
    try {
      // 30 chunks: the first attempt fails halfway, 1.5 s in, long after the subscription.
      const retried = await submit(s().baseUrl, "word-count", { text: words(3_000), failAttempts: 1 });
      const events = collectJobEvents(socket, retried.id, 60_000);
      const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: retried.id, token: retried.token });
      const seen = dedupe([...(reply.ok ? [reply.job] : []), ...(await events)]);
      const waiting = seen.find((v) => v.status === "queued" && v.retryAt);
      expect(waiting?.error?.type, "queued for a retry, with the first attempt's error").to.equal(
        "urn:herald:problem:job-failed",
      );
      expect(seen.at(-1)).to.include({ status: "succeeded", attempts: 2 });
    } finally {
      socket.close();
    }

    const failing = await submit(s().baseUrl, "word-count", { text: words(300), fail: "not a text I count" });
    const end = await pollUntil(
      async () => {
        const v = (await request<JobView>(`${s().baseUrl}/jobs/${failing.id}`, { headers: bearer(failing.token) }))
          .body;
        return v.status === "failed" && v;
      },
      { timeoutMs: 30_000, what: "the permanent failure to end the job" },
    );
    expect(end.attempts).to.equal(1);
    expect(end.error).to.include({ type: "urn:herald:problem:job-failed", detail: "not a text I count" });
    const dead = await pollUntil(
      async () =>
        (await s().apiQueue.withChannel((ch) => ch.checkQueue(s().names.deadLetterQueue))).messageCount > 0 ||
        undefined,
      { timeoutMs: 10_000, what: "the failed job's message in the dead-letter queue" },
    );
    expect(dead).to.equal(true);
  });

  it("DELETE stops a running word-count: it ends canceled, and its lease is released", async () => {
    const job = await submit(s().baseUrl, "word-count", { text: words(100_000) }); // 1000 chunks: minutes
    await pollUntil(
      async () => {
        const v = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
        return v.status === "running" && v.progress.percent > 0;
      },
      { timeoutMs: 30_000, what: "the long job to make progress" },
    );
    const socket = await connectSocket(s().baseUrl);
    try {
      const events = collectJobEvents(socket, job.id, 30_000);
      await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
      const del = await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, {
        method: "DELETE",
        headers: bearer(job.token),
      });
      expect(del.status).to.equal(202);
      const last = (await events).at(-1) as JobView;
      expect(last.status).to.equal("canceled");
      expect(last.progress.percent).to.be.lessThan(100);
    } finally {
      socket.close();
    }
    await pollUntil(
      async () => (await s().redis.zScore(s().names.leasesKey(s().names.shardOf(job.id)), job.id)) === null,
      {
        timeoutMs: 10_000,
        what: "the canceled job's lease to be released",
      },
    );
  });

  it("runs up to WORKER_PREFETCH jobs at once (default 4)", async () => {
    const jobs = await Promise.all([1, 2, 3].map(() => submit(s().baseUrl, "word-count", { text: words(100_000) })));
    try {
      await pollUntil(
        async () => {
          const views = await Promise.all(
            jobs.map(
              async (j) => (await request<JobView>(`${s().baseUrl}/jobs/${j.id}`, { headers: bearer(j.token) })).body,
            ),
          );
          return views.every((v) => v.status === "running" && v.progress.percent > 0);
        },
        { timeoutMs: 30_000, what: "three jobs running side by side in one worker" },
      );
    } finally {
      for (const j of jobs)
        await request(`${s().baseUrl}/jobs/${j.id}`, { method: "DELETE", headers: bearer(j.token) });
    }
    for (const j of jobs) {
      await pollUntil(
        async () =>
          (await request<JobView>(`${s().baseUrl}/jobs/${j.id}`, { headers: bearer(j.token) })).body.status ===
          "canceled",
        { timeoutMs: 20_000, what: `job ${j.id} to end canceled` },
      );
    }
  });

  it("SIGTERM mid-job hands the job back (the attempt not counted); the next worker runs it", async () => {
    const job = await submit(s().baseUrl, "word-count", { text: words(100_000) }); // longer than the grace
    const running = workers.at(-1) as Spawned;
    await pollUntil(
      async () => {
        const v = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
        return v.status === "running" && v.progress.percent > 0;
      },
      { timeoutMs: 30_000, what: "the long job to make progress" },
    );
    running.signalGroup("SIGTERM");
    expect(await running.exited, "a clean exit after the grace period").to.deep.equal({ code: 0, signal: null });
    const back = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
    expect(back).to.include({ status: "queued", attempts: 0 });
    expect(await s().redis.zScore(s().names.leasesKey(s().names.shardOf(job.id)), job.id), "lease released").to.equal(
      null,
    );
    // The stop withdrew the worker from the registry at once (its entry would live JOB_TYPE_TTL_MS).
    expect((await wordCountType())?.liveWorkers).to.equal(0);

    await startWorker();
    await pollUntil(
      async () => {
        const v = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
        return v.status === "running" && v.attempts === 1;
      },
      { timeoutMs: 30_000, what: "the next worker to take the handed-back job as its first attempt" },
    );
    await request(`${s().baseUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) }); // no need to wait it out
  });

  it("kill -9 mid-job: a restarted worker finishes the job, succeeded exactly once", async () => {
    const n = 4_000; // 40 chunks
    // Every committed record of the job, watched from before it exists (its first commits come
    // within milliseconds of the 202: a subscription to its events channel would miss them).
    const history = await watchJobHistory(REDIS_URL, s().names);
    const job = await submit(s().baseUrl, "word-count", { text: words(n) });
    try {
      const first = workers.at(-1) as Spawned;
      await pollUntil(
        async () => {
          const v = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
          return v.status === "running" && v.progress.percent >= 10;
        },
        { timeoutMs: 30_000, what: "the job to be well under way" },
      );
      await killAll(first); // SIGKILL: no hand-back, the message stays unacked
      expect((await first.exited).signal, "killed, not exited").to.equal("SIGKILL");

      await startWorker();
      const end = await pollUntil(
        async () => {
          const v = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
          return ["succeeded", "failed", "canceled"].includes(v.status) && v;
        },
        { timeoutMs: 60_000, what: "the restarted worker to finish the job" },
      );
      expect(end).to.include({ status: "succeeded", attempts: 2 });
      const result = await request(`${s().baseUrl}/jobs/${job.id}/result`, { headers: bearer(job.token) });
      expect(result.body).to.deep.equal({ words: n });

      await pollUntil(async () => history.succeededCommits(job.id) > 0, {
        timeoutMs: 5_000,
        what: "the succeeded commit",
      });
      expect(history.succeededCommits(job.id), "one succeeded commit").to.equal(1);
      expect(history.runningAttempts(job.id), "the first attempt, then the restarted worker's").to.deep.equal([1, 2]);
      const versions = (history.changes.get(job.id) ?? []).map((r) => r.version);
      expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
    } finally {
      await history.close();
    }
  });

  it("shares its namespace with a TypeScript worker of other types: each job runs where it is served", async () => {
    // The bundled TypeScript worker (demo, csv-summary) joins; both consume the one jobs queue and
    // pass on what they do not serve, so no job fails for landing on the other worker.
    const tsWorker = await s().addWorker();
    try {
      const jobs = [];
      for (let i = 0; i < 6; i++) {
        jobs.push({ type: "word-count", job: await submit(s().baseUrl, "word-count", { text: words(10 + i) }) });
        jobs.push({ type: "demo", job: await submit(s().baseUrl, "demo", { steps: 1, stepMs: 0 }) });
      }
      for (const { type, job } of jobs) {
        const end = await pollUntil(
          async () => {
            const v = (await request<JobView>(`${s().baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).body;
            return ["succeeded", "failed", "canceled"].includes(v.status) && v;
          },
          { timeoutMs: 60_000, what: `the ${type} job ${job.id} to end` },
        );
        expect(end, `${type}: ${JSON.stringify(end.error)}`).to.include({ status: "succeeded", attempts: 1 });
      }
    } finally {
      await tsWorker.stop();
    }
  });
});
