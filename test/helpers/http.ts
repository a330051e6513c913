// Small HTTP helpers for tests: real fetch against a real server, redirects never followed.
// Every loop here has a deadline.
import { request as httpRequest } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { pollUntil } from "./net.ts";

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  contentType: string;
}

export async function request<T = unknown>(url: string, init: RequestInit = {}): Promise<Reply<T>> {
  const res = await fetch(url, { redirect: "manual", ...init });
  const text = await res.text();
  const contentType = res.headers.get("content-type") ?? "";
  const body = (text && contentType.includes("json") ? JSON.parse(text) : text) as T;
  return { status: res.status, headers: res.headers, body, contentType };
}

export function postJob(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${base}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function submit(base: string, type: string, payload: unknown): Promise<AcceptedJob> {
  const reply = await postJob(base, { type, payload });
  if (reply.status !== 202) throw new Error(`submit answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body as AcceptedJob;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export function getStatus(base: string, job: { id: string; token: string }): Promise<Reply<JobView>> {
  return request<JobView>(`${base}/jobs/${job.id}`, { headers: bearer(job.token) });
}

/** Polls the status monitor every `everyMs` until the job is terminal; returns every reply seen. */
export async function pollToEnd(
  base: string,
  job: { id: string; token: string },
  { everyMs = 50, timeoutMs = 20_000 } = {},
): Promise<Reply<JobView>[]> {
  const seen: Reply<JobView>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reply = await getStatus(base, job);
    seen.push(reply);
    if (["succeeded", "failed", "canceled"].includes(reply.body.status)) return seen;
    await delay(everyMs);
  }
  throw new Error(`job ${job.id} not finished within ${timeoutMs} ms; last: ${JSON.stringify(seen.at(-1)?.body)}`);
}

/** Polls the status monitor until `wanted` holds for a reply (e.g. the job is running), or throws
 * at the deadline with the last reply. */
export function waitForStatus(
  base: string,
  job: { id: string; token: string },
  wanted: (reply: Reply<JobView>) => boolean,
  { everyMs = 50, timeoutMs = 20_000, what = "the wanted status" } = {},
): Promise<Reply<JobView>> {
  return pollUntil(
    async () => {
      const reply = await getStatus(base, job);
      if (wanted(reply)) return reply;
      throw new Error(`${reply.status} ${JSON.stringify(reply.body)}`);
    },
    { everyMs, timeoutMs, what: `job ${job.id}: ${what}` },
  );
}

/** Status `running` (not yet finished). */
export const isRunning = (reply: Reply<JobView>): boolean => reply.body.status === "running";

/**
 * A POST whose body is held back: `continued` resolves once the server has read the request's
 * headers (Node's server answers `Expect: 100-continue` with `100 Continue` as it does so), and
 * `send()` then sends the body and resolves with the reply. A request in flight, on demand.
 */
export function postWithHeldBody(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): { continued: Promise<void>; send(): Promise<Reply> } {
  const req = httpRequest(url, {
    method: "POST",
    agent: false,
    headers: {
      "content-type": "application/json",
      ...headers,
      "content-length": String(Buffer.byteLength(body)),
      expect: "100-continue",
    },
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.once("error", reject);
    req.once("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => {
        text += d;
      });
      res.once("error", reject);
      res.once("end", () => {
        const replyHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : [value ?? ""]) replyHeaders.append(name, v);
        }
        const contentType = replyHeaders.get("content-type") ?? "";
        const parsed = text && contentType.includes("json") ? JSON.parse(text) : text;
        resolve({ status: res.statusCode ?? 0, headers: replyHeaders, body: parsed, contentType });
      });
    });
  });
  const continued = new Promise<void>((resolve, reject) => {
    req.once("continue", () => resolve());
    reply.then(() => reject(new Error("answered before the body was sent")), reject);
  });
  continued.catch(() => {}); // whoever awaits it sees the rejection
  req.flushHeaders();
  return {
    continued,
    send() {
      req.end(body);
      return reply;
    },
  };
}
