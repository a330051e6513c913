// Held HTTP requests in a process of their own: long polls (GET /jobs/{id} with `If-None-Match: *`
// and `Prefer: wait=N`, which the API holds while the job is unchanged) or SSE streams
// (GET /jobs/{id}/events), one connection each, kept open until `close`.
import { type ClientRequest, request } from "node:http";
import { serve } from "../procs/ipc.ts";

interface JobRef {
  readonly id: string;
  readonly token: string;
}

const open = new Set<ClientRequest>();

function hold(base: string, kind: "longpoll" | "sse", job: JobRef, localAddress?: string): Promise<void> {
  const url = new URL(kind === "sse" ? `/jobs/${job.id}/events` : `/jobs/${job.id}`, base);
  const headers: Record<string, string> = { authorization: `Bearer ${job.token}` };
  if (kind === "sse") headers.accept = "text/event-stream";
  else Object.assign(headers, { "if-none-match": "*", prefer: "wait=600" });
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers, ...(localAddress ? { localAddress } : {}) });
    open.add(req);
    req.on("error", (err) => {
      open.delete(req);
      reject(err);
    });
    if (kind === "sse") {
      // Established once the stream's headers arrive.
      req.on("response", (res) => {
        if (res.statusCode !== 200) reject(new Error(`SSE answered ${res.statusCode}`));
        else resolve();
        res.resume();
      });
    } else {
      // A long poll answers only when the job changes (or after the wait): sent is as far as it goes.
      req.on("response", (res) => {
        res.resume();
        reject(new Error(`long poll answered early: ${res.statusCode}`));
      });
      req.on("finish", () => resolve());
    }
    req.end();
  });
}

serve({
  open: async ({
    base,
    kind,
    jobs,
    localAddress,
  }: {
    base: string;
    kind: "longpoll" | "sse";
    jobs: JobRef[];
    localAddress?: string;
  }) => {
    let next = 0;
    let failed = 0;
    let firstError: string | undefined;
    const lane = async () => {
      while (next < jobs.length) {
        const job = jobs[next++] as JobRef;
        try {
          await hold(base, kind, job, localAddress);
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: 100 }, lane));
    return { opened: jobs.length - failed, failed, ...(firstError ? { firstError } : {}) };
  },
  close: () => {
    for (const req of open) req.destroy();
    open.clear();
  },
});
