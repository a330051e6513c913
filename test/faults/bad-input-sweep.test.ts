// Issue 4, faults: a sweep of bad input against running API and worker processes (not in-process),
// over HTTP, the queue and Socket.IO. Each kind gets its documented answer (shared/jobs/problems.ts;
// engine.io's own errors for its transport), every process stays up and still runs a job, and
// every job that was accepted on the way ends. The basic HTTP table is in
// test/integration/bad-input.test.ts; this adds the odd cases, a seeded fuzz loop and floods.
import { request as httpRequest } from "node:http";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { expect } from "chai";
import { io } from "socket.io-client";
import { problemKinds } from "../../shared/jobs/problems.ts";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { type Cluster, loopbackClient, pollUntil, startCluster } from "../helpers/cluster.ts";
import { connectSocket } from "../helpers/realtime.ts";
import { awaitTerminal, prng } from "../helpers/soak.ts";
import { AMQP_URL } from "../helpers/stack.ts";

const BODY_LIMIT = 4096;
const SOCKET_MAX_BUFFER = 2048;
const SUBMITS_PER_MINUTE = 30;
const P = (name: string) => `urn:herald:problem:${name}`;

/** Every problem `type` the API may answer with, and its status. */
const documented = new Map<string, number>(
  Object.values(problemKinds)
    .filter((k): k is (typeof problemKinds)[keyof typeof problemKinds] & { status: number } => "status" in k)
    .map((k) => [k.type, k.status]),
);

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json?: { type?: string; status?: number; title?: string; [k: string]: unknown };
}

/** A request exactly as given: the path is not normalised (../ stays), the body is any bytes. */
function raw(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; from?: string },
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: "127.0.0.1",
      port,
      method: opts.method ?? "GET",
      path: opts.path,
      headers: opts.headers,
      ...(opts.from ? { localAddress: opts.from } : {}),
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: Raw["json"];
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    // The server may answer (and close) before a big body is sent: not a failure of the request.
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
    });
    req.end(opts.body);
  });
}

type Ack = { ok: boolean; error?: { type: string } };
/** emitWithAck with a payload the typed contract would not allow. */
const ask = (socket: unknown, event: string, payload: unknown, ms = 5_000): Promise<Ack> =>
  (socket as { timeout(ms: number): { emitWithAck(e: string, p: unknown): Promise<Ack> } })
    .timeout(ms)
    .emitWithAck(event, payload);

/** A documented problem: problem+json, no-store, a known type with its status. */
function expectProblem(r: Raw, status: number, type?: string): void {
  const what = `${r.status} ${r.text.slice(0, 300)}`;
  expect(r.status, what).to.equal(status);
  expect(String(r.headers["content-type"]), what).to.match(/^application\/problem\+json/);
  expect(r.headers["cache-control"], what).to.equal("no-store");
  expect(r.json?.status, what).to.equal(status);
  expect(documented.get(String(r.json?.type)), `${what}: documented type`).to.equal(status);
  if (type) expect(r.json?.type, what).to.equal(type);
}

const json = { "content-type": "application/json" };

describe("faults: bad input sweep against running processes", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let port: number;
  let conn: ChannelModel;
  let ch: Channel;
  let pids: (number | undefined)[];
  /** Every job accepted in this file: each must end. */
  const accepted: { id: string; token: string }[] = [];

  before(async () => {
    cluster = await startCluster({
      apis: 1,
      workers: 1,
      env: {
        BODY_LIMIT_BYTES: String(BODY_LIMIT),
        SOCKET_MAX_BUFFER_BYTES: String(SOCKET_MAX_BUFFER),
        RATE_LIMIT_SUBMIT_PER_MINUTE: String(SUBMITS_PER_MINUTE),
        SOCKET_EVENTS_PER_SECOND: "10",
      },
    });
    port = cluster.apis[0]?.port as number;
    pids = [...cluster.apis, ...cluster.workers].map((p) => p.process.pid);
    conn = await amqp.connect(AMQP_URL);
    conn.on("error", () => undefined);
    ch = await conn.createChannel();
    ch.on("error", () => undefined);
  });
  after(async () => {
    await conn?.close().catch(() => undefined);
    await cluster?.stop();
  });

  /** POST /jobs from its own loopback address (each test its own rate-limit bucket). */
  const post = (from: string, body: string | Buffer, headers: Record<string, string> = json) =>
    raw(port, { method: "POST", path: "/jobs", headers, body, from });

  it("HTTP: odd bodies get their documented problem, never a 500", async () => {
    const from = loopbackClient(2);
    const demo = (payload: unknown) => JSON.stringify({ type: "demo", payload });
    const cases: [
      label: string,
      body: string | Buffer,
      status: number,
      type: string,
      headers?: Record<string, string>,
    ][] = [
      ["invalid UTF-8 bytes", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 422, P("invalid-request")],
      ["a NUL inside the JSON text", '{"type":"demo",\u0000"payload":{}}', 400, P("invalid-json")],
      ["a lone surrogate escape in the type", '{"type":"\\ud800","payload":{}}', 422, P("unknown-job-type")],
      ["a number too large for a double", '{"type":"demo","payload":{"steps":1e999}}', 422, P("invalid-payload")],
      ["a negative zero and a float step", demo({ steps: -0, stepMs: 0.5 }), 422, P("invalid-payload")],
      ["duplicate keys (the last one wins)", '{"type":"demo","type":"nope","payload":{}}', 422, P("unknown-job-type")],
      // Refused by the parser (secure-json-parse) before any object is built from it.
      ["__proto__ in the payload", '{"type":"demo","payload":{"__proto__":{"steps":2}}}', 400, P("invalid-json")],
      [
        "constructor.prototype in the payload",
        '{"type":"demo","payload":{"constructor":{"prototype":{}}}}',
        422,
        P("invalid-payload"),
      ],
      ["constructor in the request", '{"type":"demo","payload":{},"constructor":{}}', 422, P("invalid-request")],
      ["nesting 1500 deep", `${"[".repeat(1500)}${"]".repeat(1500)}`, 422, P("invalid-request")],
      ["a type of 101 characters", JSON.stringify({ type: "x".repeat(101), payload: {} }), 422, P("invalid-request")],
      ["a unicode look-alike type", JSON.stringify({ type: "dеmo", payload: {} }), 422, P("unknown-job-type")],
      [
        "a payload of the wrong type",
        JSON.stringify({ type: "csv-summary", payload: { csv: 5 } }),
        422,
        P("invalid-payload"),
      ],
      [
        "an unknown nested field",
        JSON.stringify({ type: "csv-summary", payload: { csv: "a\n1", x: 1 } }),
        422,
        P("invalid-payload"),
      ],
      ["a body 64 times the limit", "x".repeat(BODY_LIMIT * 64), 413, P("payload-too-large")],
      ["JSON sent as UTF-16", Buffer.from(demo({ steps: 1 }), "utf16le"), 400, P("invalid-json")],
      [
        "gzip declared, plain sent",
        demo({ steps: 1 }),
        400,
        P("invalid-json"),
        { ...json, "content-encoding": "gzip" },
      ],
      [
        "an unknown content encoding",
        demo({ steps: 1 }),
        415,
        P("unsupported-media-type"),
        { ...json, "content-encoding": "zstd-ish" },
      ],
      [
        "a JSON-looking media type",
        demo({ steps: 1 }),
        415,
        P("unsupported-media-type"),
        { "content-type": "application/jsonx" },
      ],
    ];
    const failures: string[] = [];
    for (const [label, body, status, type, headers] of cases) {
      const r = await post(from, body, headers);
      try {
        expectProblem(r, status, type);
      } catch (err) {
        failures.push(`${label}: ${(err as Error).message}`);
      }
    }
    expect(failures, failures.join("\n")).to.deep.equal([]);
  });

  it("HTTP: odd headers: bad Idempotency-Keys are 400s; junk Prefer, If-None-Match, tokens change nothing", async () => {
    const from = loopbackClient(4);
    const body = JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } });
    for (const key of ["k".repeat(256), "with space", "tab\there", "ünïcödé"]) {
      const r = await post(from, body, { ...json, "idempotency-key": Buffer.from(key).toString("latin1") });
      expectProblem(r, 400, P("invalid-idempotency-key"));
    }
    // Malformed or absurd Prefer values are ignored: a plain 202.
    for (const prefer of ["wait=abc", "wait=99999999", "wait=-5", "wait", "respond-async, wait=1e9", ";;;,,,"]) {
      const r = await post(from, body, { ...json, prefer });
      expect(r.status, prefer).to.equal(202);
      expect(r.headers["preference-applied"], prefer).to.equal(undefined);
      accepted.push(r.json as unknown as AcceptedJob);
    }
    const job = accepted.at(-1) as AcceptedJob;
    const auth = { authorization: `Bearer ${job.token}` };
    for (const inm of ['W/"', "*, *, *", '"x"'.repeat(2000), "not-an-etag"]) {
      const r = await raw(port, { path: `/jobs/${job.id}`, headers: { ...auth, "if-none-match": inm }, from });
      expect([200, 303, 304], inm.slice(0, 20)).to.include(r.status);
    }
    // Secrets that cannot be one: too long, repeated, or of another scheme: "no token" (401).
    for (const [path, headers] of [
      [`/jobs/${job.id}`, { authorization: `Bearer ${"t".repeat(9000)}` }],
      [`/jobs/${job.id}?access_token=a&access_token=b`, {}],
      [`/jobs/${job.id}`, { authorization: "Basic Zm9vOmJhcg==" }],
      [`/jobs/${job.id}`, { authorization: "Bearer" }],
    ] as const) {
      expectProblem(await raw(port, { path, headers, from }), 401, P("unauthorized"));
    }
  });

  it("HTTP: invalid ids (traversal, very long, unicode, NUL) on every job route: 401/404, never a 500", async () => {
    const from = loopbackClient(3);
    const token = { authorization: "Bearer some-token-that-opens-nothing" };
    const ids = [
      "../../../../etc/passwd",
      "..%2F..%2F..%2Fetc%2Fpasswd",
      "%2e%2e%2f%2e%2e%2f",
      "....//....//",
      "%00",
      "abc%00def",
      "x".repeat(4000),
      "%F0%9F%92%A3", // 💣
      "%E2%80%AE%E2%80%AD", // right-to-left override
      "%C0%AE%C0%AE%2F", // overlong UTF-8 for "../"
      "%ZZ", // a broken escape
      "'%20OR%201=1--",
      "*",
      "00000000-0000-0000-0000-000000000000",
    ];
    const failures: string[] = [];
    for (const id of ids) {
      for (const [method, suffix] of [
        ["GET", ""],
        ["DELETE", ""],
        ["GET", "/result"],
        ["GET", "/events"],
      ] as const) {
        const path = `/jobs/${id}${suffix}`;
        for (const headers of [{}, token]) {
          const r = await raw(port, { method, path, headers, from });
          const want = "authorization" in headers ? 404 : 401;
          try {
            // A traversal that leaves /jobs/:id is another route, unknown: 404 as well.
            expectProblem(r, r.status === 404 ? 404 : want);
            expect(r.text).to.not.include("root:");
          } catch (err) {
            failures.push(`${method} ${path.slice(0, 80)}: ${(err as Error).message}`);
          }
        }
      }
    }
    // Longer than Node's header limit (16 KB): Node itself answers 431, without reaching the app.
    const huge = await raw(port, { path: `/jobs/${"x".repeat(20_000)}`, from });
    expect(huge.status).to.equal(431);
    expect(failures, failures.join("\n")).to.deep.equal([]);
  });

  it("HTTP: a seeded fuzz loop over POST /jobs and GET /jobs/:id answers only documented statuses", async () => {
    const random = prng(20261125);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
    const chars = ['"', "\\", "/", "\u0000", "\n", "é", "😀", "\u202e", "a", "Z", "0", " ", "{", "]", ","];
    const str = () => Array.from({ length: int(12) }, () => pick(chars)).join("");
    const keys = ["type", "payload", "steps", "stepMs", "fail", "failAttempts", "csv", "delimiter", "header"];
    const num = () => pick([0, 1, -1, 2, 7, 1000, 1001, 60_000, 0.5, -0.25, 1e21, Number.MAX_SAFE_INTEGER + 2]);
    const value = (depth: number): unknown => {
      const k = random();
      if (depth > 3 || k < 0.45)
        return pick<() => unknown>([() => null, () => random() < 0.5, num, str, () => pick(["demo", "csv-summary"])])();
      if (k < 0.65) return Array.from({ length: int(4) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: int(5) }, () => [random() < 0.7 ? pick(keys) : str(), value(depth + 1)]),
      );
    };
    const mutate = (text: string) => {
      const chars = [...text];
      for (let i = int(4); i >= 0; i--) {
        const at = int(chars.length + 1);
        const op = int(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, pick(['"', "{", "}", "[", ",", ":", "\\", "x"]));
        else chars.splice(at, 1, pick(["0", "-", "e", "."]));
      }
      return chars.join("");
    };
    const body = (): string | Buffer => {
      const mode = random();
      const shaped = () => {
        const req: Record<string, unknown> = { type: pick(["demo", "demo", "csv-summary", str()]), payload: value(1) };
        if (random() < 0.5) req.payload = { steps: pick([1, 2, 0, "1", 1.5]), stepMs: pick([0, 1, -1, 5]) };
        if (random() < 0.1) req[pick(keys.concat(str()))] = value(2);
        if (random() < 0.1) delete req.type;
        return req;
      };
      if (mode < 0.55) return JSON.stringify(shaped());
      if (mode < 0.75) return JSON.stringify(value(0)) ?? "null";
      if (mode < 0.93) return mutate(JSON.stringify(shaped()));
      return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    };

    const statuses = new Map<number, number>();
    const failures: string[] = [];
    for (let i = 0; i < 400; i++) {
      // Many client addresses: the fuzz is not about the rate limit (the flood test is).
      const from = loopbackClient(20 + (i % 100));
      const b = body();
      const r = await post(from, b);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      try {
        if (r.status === 202) {
          const job = r.json as unknown as AcceptedJob;
          expect(job.id).to.be.a("string");
          accepted.push(job);
        } else {
          expect([400, 413, 415, 422]).to.include(r.status);
          expectProblem(r, r.status);
        }
        if (i % 4 === 0) {
          // And a random id and token on the status route.
          const path = `/jobs/${encodeURIComponent(str())}${pick(["", "/result", "/events"])}`;
          const g = await raw(port, { path, headers: { authorization: `Bearer ${encodeURIComponent(str()) || "x"}` } });
          expect([401, 404]).to.include(g.status);
          expectProblem(g, g.status);
        }
      } catch (err) {
        failures.push(`#${i} ${String(b).slice(0, 120)} → ${(err as Error).message}`);
      }
    }
    expect(failures, failures.slice(0, 10).join("\n")).to.deep.equal([]);
    expect(statuses.get(500) ?? 0).to.equal(0);
    // The generator reached the interesting classes (else the loop proves little).
    for (const s of [202, 400, 422]) expect(statuses.get(s) ?? 0, `answers ${s}`).to.be.above(0);
    // Fuzzed demo jobs may ask for long runs: cancel them; they must still end.
    for (const job of accepted) {
      await raw(port, { method: "DELETE", path: `/jobs/${job.id}`, headers: { authorization: `Bearer ${job.token}` } });
    }
  });

  it("HTTP: a submit flood from one client: 202 up to the rate limit, then 429 with Retry-After", async () => {
    const from = loopbackClient(200);
    const body = JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } });
    const replies = await Promise.all(Array.from({ length: SUBMITS_PER_MINUTE * 3 }, () => post(from, body)));
    const ok = replies.filter((r) => r.status === 202);
    const limited = replies.filter((r) => r.status === 429);
    expect(ok.length + limited.length).to.equal(replies.length, replies.map((r) => r.status).join(","));
    expect(ok.length).to.be.at.least(1).and.at.most(SUBMITS_PER_MINUTE);
    for (const r of limited) {
      expectProblem(r, 429, P("rate-limited"));
      expect(Number(r.headers["retry-after"])).to.be.above(0);
    }
    for (const r of ok) accepted.push(r.json as unknown as AcceptedJob);
  });

  it("queue: garbage published to the jobs exchange is dead-lettered; the worker process lives on", async () => {
    const garbage: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]),
      Buffer.from("null"),
      Buffer.from("[]"),
      Buffer.from('"a string"'),
      Buffer.from("1e999"),
      Buffer.from(`${"[".repeat(200_000)}${"]".repeat(200_000)}`), // deeper than JSON.parse's stack
      Buffer.from(JSON.stringify({ v: 1, jobId: "../../etc/passwd", type: "demo", payload: {} })),
      Buffer.from(JSON.stringify({ v: 1, jobId: crypto.randomUUID(), type: "demo", payload: {}, extra: true })),
      Buffer.from(JSON.stringify({ __proto__: { v: 1 }, jobId: crypto.randomUUID() })),
      Buffer.alloc(2 * 1024 * 1024, "x"),
    ];
    const deadBefore = (await ch.checkQueue(cluster.names.deadLetterQueue)).messageCount;
    for (const body of garbage) ch.publish(cluster.names.jobsExchange, cluster.names.jobsRoutingKey, body);
    await pollUntil(
      async () =>
        (await ch.checkQueue(cluster.names.deadLetterQueue)).messageCount - deadBefore === garbage.length &&
        (await ch.checkQueue(cluster.names.jobsQueue)).messageCount === 0,
      { timeoutMs: 15_000, what: `all ${garbage.length} garbage messages dead-lettered` },
    );
    const worker = cluster.workers[0];
    expect(worker?.alive).to.equal(true);
    expect(worker?.output().match(/"msg":"dead-lettering an invalid message"/g)?.length).to.equal(garbage.length);
  });

  it("Socket.IO: an oversized message or a malformed packet closes that socket only; engine.io errors are 400s", async () => {
    const base = cluster.apis[0]?.url as string;
    const bystander = await connectSocket(base);
    // Larger than SOCKET_MAX_BUFFER_BYTES, on both transports: the server drops the connection.
    for (const transports of [["websocket"], ["polling"]] as const) {
      const socket = await connectSocket(base, { transports: [...transports] });
      const gone = new Promise<string>((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
      const big = { jobId: crypto.randomUUID(), token: "t".repeat(SOCKET_MAX_BUFFER * 4) };
      socket.emit("subscribe", big, () => undefined);
      expect(await gone, transports[0]).to.match(/transport (close|error)/);
      socket.close();
    }
    // Malformed Socket.IO packets inside well-formed engine.io frames: the connection is closed,
    // or the packet ignored and the socket still answers properly.
    for (const packet of ["2[", "2{}", '2["subscribe",', "9", "0/no-such-namespace,", "5-0[]", "2[1,2,3]"]) {
      const socket = await connectSocket(base);
      const gone = new Promise<string>((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
      const engine = (socket.io as unknown as { engine: { write(data: string): void } }).engine;
      engine.write(packet);
      // Either dropped, or ignored: then a proper subscribe still gets its documented answer.
      const answer = await Promise.race([
        gone.then((reason) => `disconnected: ${reason}`),
        ask(socket, "subscribe", { jobId: "not-a-uuid" }, 3_000).then((r) => `answered: ${r.error?.type}`),
      ]);
      expect(answer, packet).to.match(/^disconnected: |^answered: urn:herald:problem:invalid-request$/);
      socket.close();
    }
    expect(bystander.connected, "other sockets are untouched").to.equal(true);
    expect((await ask(bystander, "subscribe", { jobId: "nope" })).error?.type).to.equal(P("invalid-request"));
    bystander.close();
    // engine.io's own refusals of bad transport requests: 400 with its JSON error codes.
    for (const [path, code] of [
      ["/socket.io/?EIO=4&transport=polling&sid=not-a-session", 1],
      ["/socket.io/?EIO=4&transport=teleport", 0],
      ["/socket.io/?EIO=3&transport=polling", 5],
      ["/socket.io/?EIO=4&transport=polling&sid=%00%00", 1],
    ] as const) {
      const r = await raw(port, { path });
      expect(r.status, path).to.equal(400);
      expect(r.json?.code, path).to.equal(code);
    }
    const bogusPost = await raw(port, {
      method: "POST",
      path: "/socket.io/?EIO=4&transport=polling&sid=nope",
      headers: { "content-type": "text/plain" },
      body: "garbage",
    });
    expect(bogusPost.status).to.equal(400);
  });

  it("Socket.IO: a burst of 150 connections and an event flood; the instance keeps serving", async () => {
    const base = cluster.apis[0]?.url as string;
    const sockets = await Promise.all(Array.from({ length: 150 }, () => connectSocket(base)));
    expect(sockets.every((s) => s.connected)).to.equal(true);
    const flooder = sockets[0];
    if (!flooder) throw new Error("no socket");
    const dropped = new Promise<string>((resolve) => flooder.once("disconnect", (reason) => resolve(reason)));
    for (let i = 0; i < 400; i++) flooder.emit("unsubscribe", { jobId: crypto.randomUUID() });
    expect(await dropped).to.equal("io server disconnect");
    // The others are untouched and still answered.
    const other = sockets[1];
    const reply = await ask(other, "subscribe", { jobId: "nope" });
    expect(reply.error?.type).to.equal(P("invalid-request"));
    for (const s of sockets) s.close();
    // A plain, unrestricted client after all that.
    const late = io(base, { transports: ["websocket"], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      late.once("connect", () => resolve());
      late.once("connect_error", reject);
    });
    late.close();
  });

  it("afterwards: the same processes, a job still runs, every job accepted on the way has ended", async () => {
    expect([...cluster.apis, ...cluster.workers].map((p) => p.process.pid)).to.deep.equal(pids);
    for (const p of [...cluster.apis, ...cluster.workers]) {
      expect(p.alive, p.id).to.equal(true);
      expect(p.output(), p.id).to.not.match(/uncaught|unhandled rejection|"msg":"unhandled error"/i);
    }
    const r = await post(loopbackClient(250), JSON.stringify({ type: "demo", payload: { steps: 2, stepMs: 10 } }));
    expect(r.status).to.equal(202);
    const job = r.json as unknown as AcceptedJob;
    accepted.push(job);
    expect(accepted.length).to.be.above(5);
    const outcomes = await awaitTerminal(cluster.apis[0]?.url as string, accepted, { deadlineMs: 30_000 });
    const open = accepted.filter((j) => outcomes.get(j.id)?.kind !== "terminal");
    expect(open.map((j) => `${j.id}: ${JSON.stringify(outcomes.get(j.id))}`)).to.deep.equal([]);
    const last = outcomes.get(job.id) as { view: { status: string } };
    expect(last.view.status).to.equal("succeeded");
  });
});
