// The client library in Node against a real instance: the channel order socket → SSE → polling,
// de-duplication by version, resubscription after the server drops the socket, and its errors.
import { expect } from "chai";
import { HeraldClient, JobAccessError, JobFailedError } from "../../shared/client/index.ts";
import type { JobView } from "../../shared/schemas.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("client library (Node)", () => {
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
    stack = await startStack();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(() => stack.close());

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
    expect(progress).to.include.members([25, 50, 75, 100]);
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
    const job = await c.submit("demo", { steps: 8, stepMs: 250 });
    const updates: number[] = [];
    const watch = c.watch(job, { onUpdate: (v) => updates.push(v.version) });
    expect(await watch.result()).to.deep.equal({ steps: 8 });
    expect(watch.channel).to.equal("polling");
    expect(requests.filter((u) => u.endsWith("/events")).length).to.equal(2, "SSE tried twice, then given up");
    expect(updates.length).to.be.greaterThan(2, "long polling saw the steps, not just the end");
  });

  it("resubscribes after the server drops the socket, and still gets the terminal state", async () => {
    const c = client();
    const job = await c.submit("demo", { steps: 6, stepMs: 150 });
    const updates: JobView[] = [];
    const watch = c.watch(job, { onUpdate: (v) => updates.push(v) });
    // Drop every socket once the job is under way.
    while (!updates.some((v) => v.status === "running")) await new Promise((r) => setTimeout(r, 20));
    stack.api.io.local.disconnectSockets(true);
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
    const started = Date.now();
    const watch = c.watch({ id: job.id, token: "wrong" });
    const err = await watch.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(JobAccessError);
    expect(watch.channel).to.equal("socket");
    expect(Date.now() - started).to.be.below(2_000);
  });

  it("submit with wait returns the final state when the job ends in time", async () => {
    const c = client();
    const job = await c.submit("demo", { steps: 2, stepMs: 20 }, { wait: 5 });
    expect(job.status).to.equal("succeeded");
    expect(job.token).to.be.a("string");
  });
});
