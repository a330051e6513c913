// Types shared by the client library's parts.
import type { JobView, Problem } from "../jobs/schemas.ts";

export type ChannelName = "socket" | "sse" | "polling";

export interface JobRef {
  id: string;
  token: string;
}

/** What a channel needs: where to go, how to fetch, and where to report what it learns. */
export interface ChannelContext {
  baseUrl: string;
  fetch: typeof fetch;
  job: JobRef;
  /** Called with every representation received; the watcher keeps the highest version. */
  apply(view: JobView): void;
  /** The highest version seen so far (0 before the first). */
  version(): number;
  /** The ETag of the highest version seen, if any. */
  etag(): string | undefined;
  /** True once a terminal state has been applied. */
  done(): boolean;
  signal: AbortSignal;
}

/** A channel follows a job until it is done (resolves) or cannot go on (rejects). */
export type Channel = (ctx: ChannelContext) => Promise<void>;

/** The job is not there for this token (401/404): no channel can help, so the watch ends. */
export class JobAccessError extends Error {
  override readonly name = "JobAccessError";
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

/** The job ended `failed` or `canceled`; `problem` says why. */
export class JobFailedError extends Error {
  override readonly name = "JobFailedError";
  constructor(
    readonly job: JobView,
    readonly problem: Problem | undefined,
  ) {
    super(problem?.detail ?? `job ${job.status}`);
  }
}

export function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
