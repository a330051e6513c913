// The Herald client: submit a job, then watch it over the best channel that works (Socket.IO,
// then SSE, then polling), converging on the truth by keeping the highest `version` seen.
// No zod at run time here (types only): the browser bundle must stay small.
import { isTerminal } from "../jobs/job-status.ts";
import { etagOf } from "../jobs/job-view.ts";
import type { AcceptedJob, JobView, Problem } from "../jobs/schemas.ts";
import { asAcceptedJob } from "./job-guards.ts";
import { pollingChannel } from "./polling-channel.ts";
import { type SocketChannelOptions, SocketHub } from "./socket-channel.ts";
import { sseChannel } from "./sse-channel.ts";
import { type Channel, type ChannelName, JobAccessError, JobFailedError, type JobRef } from "./types.ts";

export interface HeraldClientOptions {
  /** The API's origin, e.g. "https://jobs.example.com"; "" in a browser page served by the API. */
  baseUrl: string;
  /** Channels to try, in order. Default: socket, sse, polling. */
  channels?: readonly ChannelName[];
  socket?: SocketChannelOptions;
  /** Seconds a long poll may be held. Default 25. */
  pollWaitSeconds?: number;
  fetch?: typeof fetch;
}

export interface WatchOptions {
  /** Every new representation (in version order, duplicates removed). */
  onUpdate?: (job: JobView) => void;
  /** Progress of a running job. */
  onProgress?: (progress: JobView["progress"], job: JobView) => void;
}

export interface JobWatch extends AsyncIterable<JobView> {
  /** The terminal representation: resolves on success, rejects with JobFailedError otherwise. */
  readonly done: Promise<JobView>;
  /** The result: parsed JSON for stored results, `{ location }` for a resource the job updated. */
  result(): Promise<unknown>;
  /** The highest version seen so far. */
  readonly latest: JobView | undefined;
  /** The channel in use now. */
  readonly channel: ChannelName | undefined;
  close(): void;
}

export class HeraldClient {
  private readonly fetch: typeof fetch;
  private readonly hub: SocketHub;
  private readonly channels: readonly ChannelName[];

  constructor(private readonly opts: HeraldClientOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.hub = new SocketHub(opts.baseUrl || globalThis.location?.origin || "", opts.socket);
    this.channels = opts.channels ?? ["socket", "sse", "polling"];
  }

  /** POST /jobs. `wait` (seconds) asks the server to answer with the final state (200, with the
   * token) if it comes in time; else the job as accepted (202). */
  async submit(type: string, payload: unknown, opts: { wait?: number } = {}): Promise<AcceptedJob> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (opts.wait) headers.prefer = `wait=${opts.wait}`;
    const res = await this.fetch(`${this.opts.baseUrl}/jobs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ type, payload }),
      redirect: "manual", // a redirect followed would leave the token (shown once) behind
    });
    if (res.type === "opaqueredirect") throw new Error("POST /jobs answered a redirect this fetch cannot read");
    const body: unknown = await res.json();
    if (res.status >= 400) throw new HeraldRequestError(res.status, body as Problem);
    return asAcceptedJob(body, "POST /jobs");
  }

  watch(job: JobRef, opts: WatchOptions = {}): JobWatch {
    return new Watch(job, opts, this.channelsFor(), this.opts.baseUrl, this.fetch);
  }

  close(): void {
    this.hub.close();
  }

  private channelsFor(): [ChannelName, Channel][] {
    const make: Record<ChannelName, () => Channel> = {
      socket: () => this.hub.channel(),
      sse: () => sseChannel(),
      polling: () => pollingChannel({ waitSeconds: this.opts.pollWaitSeconds ?? 25 }),
    };
    return this.channels.map((name) => [name, make[name]()]);
  }
}

export class HeraldRequestError extends Error {
  override readonly name = "HeraldRequestError";
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem?.title ?? "request failed"}`);
  }
}

class Watch implements JobWatch {
  latest: JobView | undefined;
  channel: ChannelName | undefined;
  readonly done: Promise<JobView>;
  private readonly abort = new AbortController();
  private readonly queue: JobView[] = [];
  private wakeReader: (() => void) | null = null;
  private finished = false;

  constructor(
    private readonly job: JobRef,
    private readonly opts: WatchOptions,
    channels: [ChannelName, Channel][],
    private readonly baseUrl: string,
    private readonly fetchFn: typeof globalThis.fetch,
  ) {
    this.done = this.run(channels);
    this.done.catch(() => {}); // rejections are for whoever awaits `done`
  }

  close(): void {
    this.abort.abort();
    this.finish();
  }

  async result(): Promise<unknown> {
    const final = await this.done;
    const url = final.resultUrl ?? "";
    if (url !== `/jobs/${final.id}/result`) return { location: url };
    const res = await this.fetchFn(`${this.baseUrl}${url}`, { headers: { authorization: `Bearer ${this.job.token}` } });
    if (!res.ok) throw new HeraldRequestError(res.status, (await res.json()) as Problem);
    return res.json();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JobView> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
    }
  }

  private async run(channels: [ChannelName, Channel][]): Promise<JobView> {
    const ctx = {
      baseUrl: this.baseUrl,
      fetch: this.fetchFn,
      job: this.job,
      apply: (view: JobView) => this.apply(view),
      version: () => this.latest?.version ?? 0,
      etag: () => (this.latest ? etagOf(this.latest) : undefined),
      done: () => this.latest !== undefined && isTerminal(this.latest.status),
      signal: this.abort.signal,
    };
    try {
      let lastError: unknown = new Error("no channel configured");
      for (const [name, channel] of channels) {
        if (ctx.done() || this.abort.signal.aborted) break;
        this.channel = name;
        try {
          await channel(ctx);
        } catch (err) {
          if (err instanceof JobAccessError) throw err;
          lastError = err;
        }
      }
      const final = this.latest;
      if (!final || !isTerminal(final.status)) throw this.abort.signal.aborted ? new Error("watch closed") : lastError;
      if (final.status !== "succeeded") throw new JobFailedError(final, final.error);
      return final;
    } finally {
      this.finish();
    }
  }

  private apply(view: JobView): void {
    if (view.id !== this.job.id || (this.latest && view.version < this.latest.version)) return;
    // The same version again is news only if `stalled` changed (the status monitor shows it, and
    // its ETag, which the polling channel sends back, covers it).
    if (this.latest && view.version === this.latest.version && !view.stalled === !this.latest.stalled) return;
    const progressed = !this.latest || JSON.stringify(this.latest.progress) !== JSON.stringify(view.progress);
    this.latest = view;
    this.queue.push(view);
    this.wakeReader?.();
    this.opts.onUpdate?.(view);
    if (progressed) this.opts.onProgress?.(view.progress, view);
  }

  private finish(): void {
    this.finished = true;
    this.wakeReader?.();
  }
}
