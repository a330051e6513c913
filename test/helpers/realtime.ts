// Real Socket.IO and SSE clients for tests.
import { io, type ManagerOptions, type SocketOptions } from "socket.io-client";
import type { ClientSocket } from "../../shared/client/socket-channel.ts";
import { SseParser } from "../../shared/client/sse-parser.ts";
import { isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { pollUntil } from "./net.ts";

export async function connectSocket(
  baseUrl: string,
  opts: Partial<ManagerOptions & SocketOptions> = {},
): Promise<ClientSocket> {
  const socket: ClientSocket = io(baseUrl, { transports: ["websocket"], reconnection: false, ...opts });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
  return socket;
}

/** Collects `job` events of one job until a terminal one arrives. */
export function collectJobEvents(socket: ClientSocket, jobId: string, timeoutMs = 15_000): Promise<JobView[]> {
  return new Promise((resolve, reject) => {
    const seen: JobView[] = [];
    const timer = setTimeout(() => {
      socket.off("job", onJob);
      reject(new Error(`no terminal event within ${timeoutMs} ms; saw ${seen.map((v) => v.version).join(",")}`));
    }, timeoutMs);
    const onJob = (view: JobView) => {
      if (view.id !== jobId) return;
      seen.push(view);
      if (isTerminal(view.status)) {
        clearTimeout(timer);
        socket.off("job", onJob);
        resolve(seen);
      }
    };
    socket.on("job", onJob);
  });
}

/** Keeps only the newest version of each, in version order: what a client converges on. */
export function dedupe(views: JobView[]): JobView[] {
  const out: JobView[] = [];
  for (const v of views) if (!out.length || v.version > (out.at(-1)?.version ?? 0)) out.push(v);
  return out;
}

export interface SseReading {
  status: number;
  headers: Headers;
  events: { id?: string; event: string; view: JobView }[];
  comments: number;
  /** True when the server ended the stream (rather than our abort or timeout). */
  ended: boolean;
  body?: unknown;
}

export type SseEvent = SseReading["events"][number];

/** Reads an SSE stream until the server ends it, `stopAfter` events arrive, or the timeout.
 * `onEvent` sees each event as it arrives (e.g. to act between the first event and the next),
 * `onComment` each comment (heartbeat). */
export async function readSse(
  url: string,
  headers: Record<string, string>,
  opts: {
    stopAfter?: number;
    timeoutMs?: number;
    onEvent?: (event: SseEvent) => void;
    onComment?: () => void;
  } = {},
): Promise<SseReading> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), opts.timeoutMs ?? 15_000);
  try {
    const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
    const reading: SseReading = { status: res.status, headers: res.headers, events: [], comments: 0, ended: false };
    if (res.status === 204) return reading; // no stream (the client has the terminal event)
    if (!res.ok || !res.body) {
      reading.body = await res.json();
      return reading;
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          reading.ended = true;
          break;
        }
        const text = decoder.decode(value, { stream: true });
        const comments = text.split(/\n/).filter((l) => l.startsWith(":")).length;
        reading.comments += comments;
        for (let i = 0; i < comments; i++) opts.onComment?.();
        for (const ev of parser.push(text)) {
          const event: SseEvent = { ...(ev.id ? { id: ev.id } : {}), event: ev.event, view: JSON.parse(ev.data) };
          reading.events.push(event);
          opts.onEvent?.(event);
        }
        if (opts.stopAfter !== undefined && reading.events.length >= opts.stopAfter) {
          abort.abort();
          break;
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
    return reading;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once Redis counts a subscriber on the sharded `channel`: e.g. a held long poll or an
 * SSE stream is now waiting for the job's next change (they subscribe to its events channel). */
export function subscribed(redis: RedisClient, channel: string, timeoutMs = 10_000): Promise<true> {
  return pollUntil(async () => ((await redis.pubSubShardNumSub(channel))[channel] ?? 0) > 0 || undefined, {
    timeoutMs,
    everyMs: 20,
    what: `a subscriber on ${channel}`,
  });
}
