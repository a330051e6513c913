// The realtime channels on one instance, against the real RabbitMQ and Redis, with a real
// socket.io-client, a real SSE reader and real HTTP. (Cross-instance delivery through nginx is in
// test/e2e/scale-out.test.ts.)
//
// Tests that hold a request until the job's next change use a gated job (test/helpers/gate.ts): it
// runs, then changes only when the test says so, so the version a request holds is known and the
// answer is decided by the test, not by a race with the job's own first transition.
import { expect } from "chai";
import { builtinHandlers } from "../../services/worker/jobs/index.ts";
import type { SubscribeReply } from "../../shared/events/realtime-events.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { Gate } from "../helpers/gate.ts";
import { bearer, getStatus, pollToEnd, postJob, request, submit, waitForStatus } from "../helpers/http.ts";
import { collectJobEvents, connectSocket, dedupe, readSse, subscribed } from "../helpers/realtime.ts";
import { writeWithoutNotice } from "../helpers/silent-write.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const subscribe = (socket: Awaited<ReturnType<typeof connectSocket>>, req: unknown): Promise<SubscribeReply> =>
  socket.timeout(5_000).emitWithAck("subscribe", req as { jobId: string; token: string });

function expectContiguous(views: JobView[]): void {
  const versions = views.map((v) => v.version);
  expect(versions).to.deep.equal(
    [...versions].sort((a, b) => a - b),
    "version order",
  );
  expect(new Set(versions).size).to.equal(versions.length, "no duplicates after dedupe");
}

describe("realtime channels on one instance", () => {
  const gate = new Gate();
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      handlers: registry([...builtinHandlers.values(), gate.handler]),
      sseHeartbeatMs: 150,
      socketMaxJobs: 3,
      corsOrigins: ["http://allowed.example"],
      env: noLimits, // many reads from one address; the limits have their own tests
    });
  });
  after(() => stack?.close());

  /** A gated job, running: its version holds still until the test moves it. */
  async function runningGatedJob(): Promise<{ id: string; token: string; running: JobView; etag: string }> {
    const job = await submit(stack.baseUrl, "gated", {});
    await gate.started(job.id);
    const reply = await getStatus(stack.baseUrl, job);
    expect(reply.body.status).to.equal("running");
    return { id: job.id, token: job.token, running: reply.body, etag: reply.headers.get("etag") ?? "" };
  }

  describe("Socket.IO", () => {
    it("subscribe acks with the current state, then every change arrives as a `job` event", async () => {
      const socket = await connectSocket(stack.baseUrl);
      try {
        const job = await runningGatedJob();
        const events = collectJobEvents(socket, job.id);
        const reply = await subscribe(socket, { jobId: job.id, token: job.token });
        expect(reply.ok && reply.job).to.deep.include({ id: job.id, version: job.running.version });
        // Each step follows the event of the previous one, so every event is one the socket must carry.
        const steps = [25, 50, 75, 100];
        socket.on("job", (v) => {
          if (v.id !== job.id) return;
          const next = steps.shift();
          if (next === undefined) gate.finish(job.id);
          else gate.progress(job.id, next);
        });
        gate.progress(job.id, steps.shift() ?? 0);
        const seen = dedupe(await events);
        expectContiguous(seen);
        const v = job.running.version;
        expect(seen.map((x) => x.version)).to.deep.equal([v + 1, v + 2, v + 3, v + 4, v + 5]);
        expect(seen.map((x) => x.progress.percent)).to.deep.equal([25, 50, 75, 100, 100]);
        expect(seen.at(-1)?.status).to.equal("succeeded");
      } finally {
        socket.close();
      }
    });

    it("a late subscriber (after completion) gets the final state in the ack", async () => {
      const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
      await pollToEnd(stack.baseUrl, job);
      const socket = await connectSocket(stack.baseUrl);
      try {
        const reply = await subscribe(socket, { jobId: job.id, token: job.token });
        expect(reply.ok && reply.job.status).to.equal("succeeded");
      } finally {
        socket.close();
      }
    });

    it("the handshake's auth.token stands in for the subscribe token", async () => {
      const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
      const socket = await connectSocket(stack.baseUrl, { auth: { token: job.token } });
      try {
        const reply = await subscribe(socket, { jobId: job.id });
        expect(reply.ok).to.equal(true);
      } finally {
        socket.close();
      }
    });

    it("wrong, missing or another job's token: refused, and nothing of the job reaches the socket", async () => {
      const victim = await submit(stack.baseUrl, "demo", { steps: 3, stepMs: 60 });
      const other = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
      const socket = await connectSocket(stack.baseUrl);
      const leaked: JobView[] = [];
      socket.on("job", (v) => {
        if (v.id === victim.id) leaked.push(v);
      });
      try {
        const wrong = await subscribe(socket, { jobId: victim.id, token: "x".repeat(43) });
        const foreign = await subscribe(socket, { jobId: victim.id, token: other.token });
        const missing = await subscribe(socket, { jobId: victim.id });
        const unknown = await subscribe(socket, { jobId: crypto.randomUUID(), token: victim.token });
        expect(wrong).to.deep.equal(foreign, "wrong and foreign tokens answer alike");
        expect(wrong).to.deep.equal(unknown, "a wrong token answers like an unknown job");
        expect(!wrong.ok && wrong.error.type).to.equal("urn:herald:problem:not-found");
        expect(!missing.ok && missing.error.type).to.equal("urn:herald:problem:unauthorized");
        const answers = JSON.stringify([wrong, foreign, missing]);
        expect(answers).not.to.include(victim.id);
        expect(answers).not.to.include("progress");
        // Let the victim finish (its events went out), then check none came here.
        await pollToEnd(stack.baseUrl, victim);
        const probe = await subscribe(socket, { jobId: other.id, token: other.token }); // a round trip after the end
        expect(probe.ok).to.equal(true);
        expect(leaked).to.deep.equal([]);
      } finally {
        socket.close();
      }
    });

    it("malformed subscribe payloads are refused without harming the connection", async () => {
      const socket = await connectSocket(stack.baseUrl);
      try {
        for (const bad of [null, 42, "job", { jobId: "not-a-uuid", token: "t" }, { jobId: 1 }, { extra: true }]) {
          const reply = await subscribe(socket, bad);
          expect(!reply.ok && reply.error.type).to.equal("urn:herald:problem:invalid-request");
        }
        // No ack callback: nobody to answer, so the server ignores it.
        socket.emit("subscribe", { jobId: crypto.randomUUID(), token: "t" }, undefined as never);
        const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
        expect((await subscribe(socket, { jobId: job.id, token: job.token })).ok).to.equal(true);
        expect(socket.connected).to.equal(true);
      } finally {
        socket.close();
      }
    });

    it("a socket may follow at most SOCKET_MAX_JOBS jobs; unsubscribe frees a place", async () => {
      const socket = await connectSocket(stack.baseUrl);
      try {
        const jobs = await Promise.all([1, 2, 3, 4].map(() => submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 })));
        for (const j of jobs.slice(0, 3))
          expect((await subscribe(socket, { jobId: j.id, token: j.token })).ok).to.equal(true);
        const fourth = jobs[3] as (typeof jobs)[number];
        const refused = await subscribe(socket, { jobId: fourth.id, token: fourth.token });
        expect(!refused.ok && refused.error.type).to.equal("urn:herald:problem:too-many-subscriptions");
        const first = jobs[0] as (typeof jobs)[number];
        const left = await socket.timeout(5_000).emitWithAck("unsubscribe", { jobId: first.id });
        expect(left).to.deep.equal({ ok: true });
        expect((await subscribe(socket, { jobId: fourth.id, token: fourth.token })).ok).to.equal(true);
      } finally {
        socket.close();
      }
    });

    it("a foreign Origin is refused at the handshake; an allowed one connects", async () => {
      let refused: unknown;
      try {
        const s = await connectSocket(stack.baseUrl, { extraHeaders: { origin: "http://evil.example" } });
        s.close();
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(Error);
      let refusedPolling: unknown;
      try {
        const s = await connectSocket(stack.baseUrl, {
          transports: ["polling"],
          extraHeaders: { origin: "http://evil.example" },
        });
        s.close();
      } catch (err) {
        refusedPolling = err;
      }
      expect(refusedPolling).to.be.instanceOf(Error);
      const ok = await connectSocket(stack.baseUrl, { extraHeaders: { origin: "http://allowed.example" } });
      expect(ok.connected).to.equal(true);
      ok.close();
    });

    it("a socket cut off mid-job that comes back and resubscribes gets the terminal state", async () => {
      const job = await runningGatedJob();
      const first = await connectSocket(stack.baseUrl);
      const reply = await subscribe(first, { jobId: job.id, token: job.token });
      expect(reply.ok && reply.job.status).to.equal("running");
      first.close(); // cut off mid-job
      gate.finish(job.id);
      await pollToEnd(stack.baseUrl, job); // the end happens while nobody listens
      const again = await connectSocket(stack.baseUrl);
      try {
        const back = await subscribe(again, { jobId: job.id, token: job.token });
        expect(back.ok && back.job.status).to.equal("succeeded");
      } finally {
        again.close();
      }
    });
  });

  describe("Server-Sent Events", () => {
    it("first event is the current state, one event per change with id = version, ends after the terminal state", async () => {
      const job = await runningGatedJob();
      const v = job.running.version;
      let heartbeats = 0;
      // Each step is taken once the stream has shown the previous one; the end waits for a heartbeat.
      const sse = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(job.token), {
        onEvent: (e) => {
          if (e.view.version === v) gate.progress(job.id, 50, "half way");
        },
        onComment: () => {
          if (++heartbeats === 1) gate.finish(job.id);
        },
      });
      expect(sse.status).to.equal(200);
      expect(sse.headers.get("content-type")).to.match(/^text\/event-stream/);
      expect(sse.headers.get("cache-control")).to.equal("no-store");
      expect(sse.ended).to.equal(true);
      const views = sse.events.map((e) => e.view);
      expect(views.map((x) => x.version)).to.deep.equal([v, v + 1, v + 2]);
      expect(views.map((x) => x.status)).to.deep.equal(["running", "running", "succeeded"]);
      expect(views[1]?.progress).to.deep.equal({ percent: 50, message: "half way" });
      for (const e of sse.events) {
        expect(e.event).to.equal("job");
        expect(e.id).to.equal(String(e.view.version));
      }
      expect(sse.comments).to.be.greaterThan(0, "heartbeat comments (SSE_HEARTBEAT_MS=150 here)");
    });

    it("Last-Event-ID (header or query) skips what the client has; a late reader gets the final state and the end", async () => {
      const job = await submit(stack.baseUrl, "demo", { steps: 2, stepMs: 50 });
      const done = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
      const late = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(job.token));
      expect(late.events.map((e) => e.view.version)).to.deep.equal([done.version]);
      expect(late.ended).to.equal(true);
      const caughtUp = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, {
        ...bearer(job.token),
        "last-event-id": String(done.version),
      });
      expect(caughtUp.status).to.equal(204, "nothing more will come: an EventSource stops on 204");
      expect(caughtUp.events).to.deep.equal([]);
      const byQuery = await readSse(
        `${stack.baseUrl}/jobs/${job.id}/events?access_token=${job.token}&lastEventId=${done.version - 1}`,
        {},
      );
      expect(byQuery.events.map((e) => e.view.version)).to.deep.equal([done.version]);
    });

    it("an SSE client dropped mid-job reconnects with Last-Event-ID and gets what it missed, then the end", async () => {
      const job = await runningGatedJob();
      const url = `${stack.baseUrl}/jobs/${job.id}/events`;
      const before = await readSse(url, bearer(job.token), { stopAfter: 1 });
      expect(before.ended).to.equal(false);
      const lastId = before.events.at(-1)?.id;
      expect(lastId).to.equal(String(job.running.version));
      // A change while the client is away…
      gate.progress(job.id, 50);
      await waitForStatus(stack.baseUrl, job, (r) => r.body.version === job.running.version + 1);
      // …comes first on the new stream; the end follows.
      const after = await readSse(
        url,
        { ...bearer(job.token), "last-event-id": lastId ?? "" },
        {
          onEvent: () => gate.finish(job.id),
        },
      );
      expect(after.events.map((e) => e.view.version)).to.deep.equal([job.running.version + 1, job.running.version + 2]);
      expect(after.events.at(-1)?.view.status).to.equal("succeeded");
      expect(after.ended).to.equal(true);
    });

    it("the heartbeat re-reads the store: a change whose notification was lost still reaches the stream", async () => {
      const job = await runningGatedJob();
      const v = job.running.version;
      let writing: Promise<{ version: number }> | undefined;
      const sse = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(job.token), {
        onEvent: (e) => {
          if (e.view.version === v) {
            // Written to Redis with no PUBLISH: only the heartbeat's re-read can find it.
            writing = writeWithoutNotice(stack.redis, stack.names, job.id, () => ({
              progress: { percent: 60, message: "written without a notification" },
            }));
            writing.catch(() => {}); // awaited below
          }
          if (e.view.version === v + 1) gate.finish(job.id);
        },
      });
      expect((await writing)?.version).to.equal(v + 1);
      const views = sse.events.map((e) => e.view);
      expect(views.map((x) => x.version)).to.deep.equal([v, v + 1, v + 2]);
      expect(views[1]?.progress).to.deep.equal({ percent: 60, message: "written without a notification" });
      expect(views[2]?.status).to.equal("succeeded");
      expect(sse.comments).to.be.greaterThan(0);
    });

    it("no token → 401, wrong or foreign token → 404; no job data in the answers", async () => {
      const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
      const other = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
      const none = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, {});
      const wrong = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer("nope"));
      const foreign = await readSse(`${stack.baseUrl}/jobs/${job.id}/events`, bearer(other.token));
      expect(none.status).to.equal(401);
      expect(wrong.status).to.equal(404);
      expect(foreign.status).to.equal(404);
      expect(foreign.body).to.deep.equal(wrong.body);
      const answers = JSON.stringify([none.body, wrong.body, foreign.body]);
      expect(answers).not.to.include(job.id);
      expect(answers).not.to.include("progress");
      expect(wrong.events).to.deep.equal([]);
    });
  });

  describe("browser origins on HTTP and SSE", () => {
    it("CORS headers go only to allowed origins; a foreign page cannot read the job", async () => {
      const job = await submit(stack.baseUrl, "demo", { steps: 1, stepMs: 0 });
      const url = `${stack.baseUrl}/jobs/${job.id}/events`;
      const foreign = await readSse(url, { ...bearer(job.token), origin: "http://evil.example" });
      expect(foreign.headers.get("access-control-allow-origin")).to.equal(null);
      const allowed = await readSse(url, { ...bearer(job.token), origin: "http://allowed.example" });
      expect(allowed.headers.get("access-control-allow-origin")).to.equal("http://allowed.example");
      const preflight = await request(`${stack.baseUrl}/jobs`, {
        method: "OPTIONS",
        headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
      });
      expect(preflight.headers.get("access-control-allow-origin")).to.equal(null);
      const okPreflight = await request(`${stack.baseUrl}/jobs`, {
        method: "OPTIONS",
        headers: { origin: "http://allowed.example", "access-control-request-method": "POST" },
      });
      expect(okPreflight.status).to.equal(204);
      expect(okPreflight.headers.get("access-control-allow-headers")).to.include("Authorization");
    });
  });

  describe("long polling", () => {
    it("GET with If-None-Match and Prefer: wait is held, and answered as soon as the version changes", async () => {
      const job = await runningGatedJob();
      const started = Date.now();
      const held = request<JobView>(`${stack.baseUrl}/jobs/${job.id}`, {
        headers: { ...bearer(job.token), "if-none-match": job.etag, prefer: "wait=30" },
      });
      await subscribed(stack.redis, stack.names.jobEventsChannel(job.id)); // it is waiting now
      gate.progress(job.id, 50, "half way");
      const next = await held;
      expect(next.status).to.equal(200);
      expect(next.body.version).to.equal(job.running.version + 1);
      expect(next.body.progress).to.deep.equal({ percent: 50, message: "half way" });
      expect(next.headers.get("etag")).to.equal(`"${job.id}.${job.running.version + 1}"`);
      expect(next.headers.get("preference-applied")).to.equal("wait=30");
      expect(Date.now() - started).to.be.below(20_000, "answered on the change, not at the end of the 30 s wait");
      gate.finish(job.id);
    });

    it("nothing changes within the wait → 304 after about N seconds; without Prefer → 304 at once", async () => {
      const job = await runningGatedJob();
      let started = Date.now();
      const held = await request(`${stack.baseUrl}/jobs/${job.id}`, {
        headers: { ...bearer(job.token), "if-none-match": job.etag, prefer: "wait=1" },
      });
      let took = Date.now() - started;
      expect(held.status).to.equal(304);
      expect(held.headers.get("etag")).to.equal(job.etag);
      expect(held.headers.get("preference-applied")).to.equal("wait=1");
      expect(took).to.be.within(900, 15_000, "held for about the 1 s asked for");
      started = Date.now();
      const plain = await request(`${stack.baseUrl}/jobs/${job.id}`, {
        headers: { ...bearer(job.token), "if-none-match": job.etag },
      });
      took = Date.now() - started;
      expect(plain.status).to.equal(304);
      expect(plain.headers.get("preference-applied")).to.equal(null);
      expect(took).to.be.below(5_000, "not held: no Prefer: wait");
      gate.finish(job.id);
    });

    it("a late long poll (an old ETag, Prefer: wait) on a finished job answers the final state at once", async () => {
      const job = await submit(stack.baseUrl, "demo", { steps: 2, stepMs: 20 });
      const first = await request(`${stack.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
      await pollToEnd(stack.baseUrl, job);
      const started = Date.now();
      const late = await request<JobView>(`${stack.baseUrl}/jobs/${job.id}`, {
        headers: { ...bearer(job.token), "if-none-match": first.headers.get("etag") ?? "", prefer: "wait=30" },
      });
      expect(late.status).to.equal(303);
      expect(late.body.status).to.equal("succeeded");
      // Holding the final ETag, there is nothing newer to wait for: 304 at once.
      const current = await request(`${stack.baseUrl}/jobs/${job.id}`, {
        headers: { ...bearer(job.token), "if-none-match": late.headers.get("etag") ?? "", prefer: "wait=30" },
      });
      expect(current.status).to.equal(304);
      expect(Date.now() - started).to.be.below(20_000, "neither waited for the 30 s");
    });

    it("Prefer: wait is bounded by LONG_POLL_MAX_SECONDS", async () => {
      // No worker: the job stays queued at its first version, so nothing can end the wait early.
      const bounded = await startStack({ longPollMaxSeconds: 1, workers: 0 });
      try {
        const job = await submit(bounded.baseUrl, "demo", { steps: 1, stepMs: 0 });
        const first = await request(`${bounded.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
        const started = Date.now();
        const held = await request(`${bounded.baseUrl}/jobs/${job.id}`, {
          headers: { ...bearer(job.token), "if-none-match": first.headers.get("etag") ?? "", prefer: "wait=600" },
        });
        const took = Date.now() - started;
        expect(held.status).to.equal(304);
        expect(held.headers.get("preference-applied")).to.equal("wait=1");
        expect(took).to.be.within(900, 30_000, "held for the 1 s bound, not the 600 s asked for");
      } finally {
        await bounded.close();
      }
    });

    it("POST with Prefer: wait answers 200 with the final status (never a 303) when the job ends in time", async () => {
      const res = await postJob(
        stack.baseUrl,
        { type: "demo", payload: { steps: 2, stepMs: 100 } },
        { prefer: "wait=30" },
      );
      const body = res.body as JobView & { token: string };
      expect(res.status).to.equal(200);
      expect(res.headers.get("preference-applied")).to.equal("wait=30");
      expect(res.headers.get("location")).to.equal(null);
      expect(res.headers.get("content-location")).to.equal(`/jobs/${body.id}`);
      expect(body.resultUrl).to.equal(`/jobs/${body.id}/result`);
      expect(body.status).to.equal("succeeded");
      const result = await request(`${stack.baseUrl}/jobs/${body.id}/result`, { headers: bearer(body.token) });
      expect(result.body).to.deep.equal({ steps: 2 });
    });

    it("POST with Prefer: wait answers 200 failed for a job that fails in time", async () => {
      const res = await postJob(
        stack.baseUrl,
        { type: "demo", payload: { steps: 2, stepMs: 50, fail: "nope" } },
        { prefer: "wait=30" },
      );
      expect(res.status).to.equal(200);
      expect((res.body as JobView).status).to.equal("failed");
      expect((res.body as JobView).error?.detail).to.equal("nope");
    });

    it("POST with Prefer: wait answers the usual 202 after N seconds when the job is still running", async () => {
      const started = Date.now();
      // A gated job never ends by itself: the answer must be the 202 after the 1 s wait.
      const res = await postJob(stack.baseUrl, { type: "gated", payload: {} }, { prefer: "wait=1" });
      const took = Date.now() - started;
      expect(res.status).to.equal(202);
      expect(res.headers.get("preference-applied")).to.equal("wait=1");
      expect(res.headers.get("location")).to.match(/^\/jobs\/[0-9a-f-]{36}$/);
      expect(took).to.be.within(900, 15_000);
      gate.finish((res.body as JobView).id);
    });
  });
});
