// The client library in Node against a real instance: the channel order socket → SSE → polling,
// de-duplication by version, resubscription after the server drops the socket, the periodic
// resubscribe that repairs a lost event, and its errors. Jobs whose timing matters are gated
// (test/helpers/gate.ts): each change happens when the test has seen the channel it wants.
import { expect } from "chai";
import { builtinHandlers } from "../../services/worker/jobs/index.ts";
import { HeraldClient, JobAccessError, JobFailedError } from "../../shared/client/index.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { Gate } from "../helpers/gate.ts";
import { pollUntil } from "../helpers/net.ts";
import { writeWithoutNotice } from "../helpers/silent-write.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

describe("client library (Node)", () => {
  const gate = new Gate();
  let stack: Stack;
  const clients: HeraldClient[] = [];
  const client = (opts: Partial<ConstructorParameters<typeof HeraldClient>[0]> = {}) => {
    const c = new HeraldClient({
      baseUrl: stack.baseUrl,
      socket: { socketOptions: { transports: ["websocket"] } },
      ...opts,
    });
    clients.push(c);
    return c;
  };
  before(async () => {
    stack = await startStack({ handlers: registry([...builtinHandlers.values(), gate.handler]), env: noLimits });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(() => stack?.close());

  it("watches over the socket: ordered updates, progress callbacks, an async iterator and the result", async () => {
    const c = client();
    const job = await c.submit("demo", { steps: 4, stepMs: 100 });
    const updates: JobView[] = [];
    const progress: number[] = [];
    const watch = c.watch(job, { onUpdate: (v) => updates.push(v), onProgress: (p) => progress.push(p.percent) });
    const iterated: number[] = [];
    for await (const v of watch) iterated.push(v.version);
    expect(watch.channel).to.equal("socket");
    expect(await watch.result()).to.deep.equal({ steps: 4 });
    const versions = updates.map((v) => v.version);
    expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).to.equal(versions.length);
    expect(iterated).to.deep.equal(versions);
    expect(progress).to.include(100);
    expect(updates.at(-1)?.status).to.equal("succeeded");
  });

  it("falls back to SSE when the socket cannot connect", async () => {
    const c = client({
      socket: { socketOptions: { path: "/no-socket-here", transports: ["websocket"] }, connectTimeoutMs: 500 },
    });
    const job = await c.submit("demo", { steps: 3, stepMs: 100 });
    const watch = c.watch(job);
    expect(await watch.result()).to.deep.equal({ steps: 3 });
    expect(watch.channel).to.equal("sse");
  });

  it("falls back to SSE when a connected socket stays disconnected longer than reconnectTimeoutMs", async () => {
    // The socket goes through a TCP proxy that the test cuts; HTTP (submit, SSE) goes straight to
    // the API, as when a proxy on the way breaks WebSockets only.
    let proxy: TcpProxy | undefined;
    try {
      proxy = await startTcpProxy({ port: stack.api.port });
      const viaProxy = `http://127.0.0.1:${proxy.port}`;
      const direct: typeof fetch = (input, init) => fetch(String(input).replace(viaProxy, stack.baseUrl), init);
      const c = client({
        baseUrl: viaProxy,
        fetch: direct,
        socket: { socketOptions: { transports: ["websocket"] }, reconnectTimeoutMs: 1_000 },
      });
      const job = await c.submit("gated", {});
      await gate.started(job.id);
      const updates: JobView[] = [];
      const watch = c.watch(job, { onUpdate: (v) => updates.push(v) });
      await pollUntil(() => updates.some((v) => v.status === "running"), { what: "the running state" });
      expect(watch.channel).to.equal("socket");
      await proxy.cut(); // the socket drops, and every reconnect is reset
      await pollUntil(() => watch.channel === "sse", { timeoutMs: 20_000, what: "the fallback to SSE" });
      gate.progress(job.id, 50, "after the fallback");
      await pollUntil(() => updates.some((v) => v.progress.message === "after the fallback"), {
        what: "the progress over SSE",
      });
      gate.finish(job.id);
      expect((await watch.done).status).to.equal("succeeded");
      expect(watch.channel).to.equal("sse");
    } finally {
      await proxy?.close();
    }
  });

  it("resubscribes every resyncMs of quiet, which repairs a lost event", async () => {
    const c = client({ socket: { socketOptions: { transports: ["websocket"] }, resyncMs: 300 } });
    const job = await c.submit("gated", {});
    await gate.started(job.id);
    const updates: JobView[] = [];
    const watch = c.watch(job, { onUpdate: (v) => updates.push(v) });
    await pollUntil(() => updates.some((v) => v.status === "running"), { what: "the running state" });
    const running = updates.at(-1) as JobView;
    // A change that reaches Redis but whose event is lost: only a fresh snapshot can show it.
    await writeWithoutNotice(stack.redis, stack.names, job.id, () => ({
      progress: { percent: 70, message: "written without a notification" },
    }));
    await pollUntil(() => updates.some((v) => v.version === running.version + 1), {
      timeoutMs: 15_000,
      what: "the periodic resubscribe to bring the lost change",
    });
    expect(updates.at(-1)?.progress).to.deep.equal({ percent: 70, message: "written without a notification" });
    expect(watch.channel).to.equal("socket");
    gate.finish(job.id);
    expect((await watch.done).status).to.equal("succeeded");
  });

  it("falls back to (long) polling when SSE fails too", async () => {
    const requests: string[] = [];
    const fetchNoSse: typeof fetch = (input, init) => {
      const url = String(input);
      requests.push(url);
      if (url.endsWith("/events")) return Promise.resolve(new Response("nope", { status: 502 }));
      return fetch(input, init);
    };
    const c = client({
      fetch: fetchNoSse,
      socket: { socketOptions: { path: "/no-socket-here", transports: ["websocket"] }, connectTimeoutMs: 300 },
    });
    const job = await c.submit("gated", {});
    const updates: JobView[] = [];
    const watch = c.watch(job, { onUpdate: (v) => updates.push(v) });
    await pollUntil(() => watch.channel === "polling", { timeoutMs: 20_000, what: "the fallback to polling" });
    gate.progress(job.id, 50, "seen by a long poll");
    await pollUntil(() => updates.some((v) => v.progress.message === "seen by a long poll"), {
      what: "the progress over long polling",
    });
    gate.finish(job.id, { polled: true });
    expect(await watch.result()).to.deep.equal({ polled: true });
    expect(watch.channel).to.equal("polling");
    expect(requests.filter((u) => u.endsWith("/events")).length).to.equal(2, "SSE tried twice, then given up");
  });

  it("resubscribes after the server drops the socket, and still gets the terminal state", async () => {
    const c = client();
    const job = await c.submit("gated", {});
    await gate.started(job.id);
    const updates: JobView[] = [];
    const watch = c.watch(job, { onUpdate: (v) => updates.push(v) });
    await pollUntil(() => updates.some((v) => v.status === "running"), { what: "the running state" });
    stack.api.io.local.disconnectSockets(true); // mid-job: the job ends only after this
    gate.finish(job.id);
    const final = await watch.done;
    expect(final.status).to.equal("succeeded");
    expect(watch.channel).to.equal("socket", "it reconnected instead of falling back");
    const versions = updates.map((v) => v.version);
    expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
  });

  it("a failed job rejects `done` with JobFailedError carrying the problem", async () => {
    const c = client();
    const job = await c.submit("demo", { steps: 2, stepMs: 10, fail: "bad input file" });
    const err = await c.watch(job).done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(JobFailedError);
    expect((err as JobFailedError).problem?.detail).to.equal("bad input file");
  });

  it("a wrong token rejects with JobAccessError at once, without trying every channel", async () => {
    const c = client();
    const job = await c.submit("demo", { steps: 1, stepMs: 0 });
    const watch = c.watch({ id: job.id, token: "wrong" });
    const err = await watch.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(JobAccessError);
    expect(watch.channel).to.equal("socket");
  });

  it("submit with wait returns the final state when the job ends in time", async () => {
    const c = client();
    const job = await c.submit("demo", { steps: 2, stepMs: 20 }, { wait: 30 });
    expect(job.status).to.equal("succeeded");
    expect(job.token).to.be.a("string");
  });
});
