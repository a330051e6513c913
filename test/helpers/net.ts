// Network helpers for tests that run several processes on one machine: free ports, HTTP requests
// from a chosen loopback source address (so nginx's address hash can tell clients apart), and a
// poll-with-deadline helper (tests synchronise on conditions, never on fixed sleeps).
import { Agent, type AgentOptions, request as httpRequest } from "node:http";
import { createServer, isIPv4, type Server } from "node:net";
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";

/** A TCP port that was free on `host` a moment ago (the OS picks it). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, host);
  if (port === undefined) throw new Error("no port");
  return port;
}

/** `n` distinct free ports: all are held open together, then released. */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, resolve);
      });
    }
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === "string") throw new Error("not a TCP server");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** `n` ports in [from, to] that are free on `host` now, and whose `also(port)` ports are too (e.g. a
 * Redis Cluster node's bus port, port + 10000): for private brokers kept to a range of their own. */
export async function freePortsIn(
  n: number,
  range: { from: number; to: number },
  also: (port: number) => number[] = () => [],
  host = "127.0.0.1",
): Promise<number[]> {
  const found: number[] = [];
  for (let port = range.from; port <= range.to && found.length < n; port++) {
    const all = [port, ...also(port)];
    if ((await Promise.all(all.map((p) => canListen(p, host)))).every(Boolean)) found.push(port);
  }
  if (found.length < n) throw new Error(`only ${found.length} of ${n} free ports in ${range.from}-${range.to}`);
  return found;
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** True for 127.0.0.0/8 and ::1: the only source addresses these helpers bind. */
export function isLoopback(ip: string): boolean {
  return (isIPv4(ip) && ip.startsWith("127.")) || ip === "::1";
}

/**
 * An http.Agent whose connections leave from `ip` (any 127.x.y.z works on Linux without setup).
 * Not keep-alive unless asked: then the caller must `destroy()` it. Also usable as socket.io-client's
 * `agent` option (engine.io-client passes it to both the polling and the websocket transport).
 */
export function agentFrom(ip: string, options: AgentOptions = {}): Agent {
  if (!isLoopback(ip)) throw new Error(`agentFrom: ${ip} is not a loopback address`);
  return new Agent({ keepAlive: false, ...options, localAddress: ip });
}

export type FetchFromInit = Omit<RequestInit, "body"> & {
  body?: string | Uint8Array | URLSearchParams | null;
  /** Reuse an agent (e.g. a keep-alive `agentFrom(ip, { keepAlive: true })`); its localAddress wins. */
  agent?: Agent;
};

/**
 * fetch-like request from source address `ip`. Built on node:http because Node 20's global fetch
 * cannot be given a source address without the `undici` package (its bundled Agent class is not
 * exported, and `connect: { localAddress }` is silently ignored by it).
 * Resolves at the response headers with a WHATWG Response whose body streams (SSE works); never
 * follows redirects (a 303 comes back as is). Plain http:// only. `Response.url` is empty and
 * Set-Cookie headers are dropped (the Response constructor's guard).
 */
export function fetchFrom(ip: string, url: string | URL, init: FetchFromInit = {}): Promise<Response> {
  const u = new URL(url);
  if (u.protocol !== "http:") return Promise.reject(new Error(`fetchFrom: only http:// URLs (${u.href})`));
  const agent = init.agent ?? agentFrom(ip);
  const method = (init.method ?? "GET").toUpperCase();
  const headers = Object.fromEntries(new Headers(init.headers ?? {}));
  let body: Buffer | undefined;
  if (init.body instanceof URLSearchParams) {
    body = Buffer.from(init.body.toString());
    headers["content-type"] ??= "application/x-www-form-urlencoded;charset=UTF-8";
  } else if (typeof init.body === "string") {
    body = Buffer.from(init.body);
    headers["content-type"] ??= "text/plain;charset=UTF-8";
  } else if (init.body instanceof Uint8Array) {
    body = Buffer.from(init.body);
  }
  if (body) headers["content-length"] = String(body.length);
  const signal = init.signal ?? undefined;

  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const req = httpRequest(u, { method, headers, agent, localAddress: ip }, (res) => {
      const status = res.statusCode ?? 0;
      const responseHeaders = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        const [name, value] = [res.rawHeaders[i], res.rawHeaders[i + 1]];
        if (name !== undefined && value !== undefined) responseHeaders.append(name, value);
      }
      const noBody = method === "HEAD" || status === 204 || status === 205 || status === 304;
      if (noBody) res.resume();
      const stream = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      try {
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? "", headers: responseHeaders }));
      } catch (err) {
        req.destroy();
        reject(err);
      }
    });
    req.once("error", reject);
    signal?.addEventListener("abort", () => req.destroy(asError(signal.reason)), { once: true });
    req.end(body);
  });
}

/** `127.0.0.<n>`: the n-th distinct client address for `agentFrom`/`fetchFrom`. */
export const loopbackClient = (n: number): string => {
  if (!Number.isInteger(n) || n < 1 || n > 254) throw new Error(`loopbackClient: ${n} not in 1..254`);
  return `127.0.0.${n}`;
};

export interface PollOptions {
  timeoutMs?: number;
  everyMs?: number;
  /** Names the condition in the timeout error. */
  what?: string;
}

/**
 * Calls `probe` until it returns something other than undefined/false/null, and returns that.
 * A throwing probe counts as "not yet"; the last error or value is in the timeout message.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10_000, everyMs = 50, what = "condition" }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what} not met within ${timeoutMs} ms (last: ${detail})`);
    }
    await delay(everyMs);
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason ?? "aborted"));
}
