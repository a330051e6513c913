// Follows every accepted job to its terminal event, as a client of Herald does: `subscribe` (the ack
// holds a snapshot) on one of a few shared sockets, then `job` events; unsubscribes once it ends.
// Counts what arrived and when, so the sustained row can say how many were lost (none, it should be).

import type { ClientSocket } from "../../shared/client/socket-channel.ts";
import { isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import { connectSocket } from "../../test/helpers/realtime.ts";
import { Samples } from "../stats.ts";

export interface TrackCounts {
  readonly accepted: number;
  readonly terminal: number;
  readonly failed: number;
  /** Terminal events that arrived within [from, to]. */
  readonly inWindow: number;
  readonly lost: number;
  /** 202 → terminal event at the client, of jobs accepted within the window (ms). */
  readonly endToEnd: ReturnType<Samples["latency"]>;
}

export class JobTracker {
  private readonly accepted = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  private failed = 0;
  private next = 0;

  private constructor(private readonly sockets: ClientSocket[]) {
    for (const s of sockets) s.on("job", (view: JobView) => this.onView(s, view));
  }

  static async connect(url: string, count: number): Promise<JobTracker> {
    const sockets = await Promise.all(Array.from({ length: count }, () => connectSocket(url)));
    return new JobTracker(sockets);
  }

  /** A 202's body: subscribe to the job it names. */
  onAccepted(body: string): void {
    let job: { id?: unknown; token?: unknown };
    try {
      job = JSON.parse(body) as typeof job;
    } catch {
      return;
    }
    if (typeof job.id !== "string" || typeof job.token !== "string") return;
    const id = job.id;
    this.accepted.set(id, performance.now());
    const socket = this.sockets[this.next++ % this.sockets.length] as ClientSocket;
    socket.emit("subscribe", { jobId: id, token: job.token }, (reply: { ok: boolean; job?: JobView }) => {
      if (reply.ok && reply.job) this.onView(socket, reply.job);
    });
  }

  private onView(socket: ClientSocket, view: JobView): void {
    if (!isTerminal(view.status) || this.ended.has(view.id) || !this.accepted.has(view.id)) return;
    this.ended.set(view.id, performance.now());
    if (view.status !== "succeeded") this.failed++;
    socket.emit("unsubscribe", { jobId: view.id });
  }

  /** Waits until every accepted job has ended or `timeoutMs` passed, then counts. */
  async drain(from: number, to: number, timeoutMs: number): Promise<TrackCounts> {
    const deadline = performance.now() + timeoutMs;
    while (this.ended.size < this.accepted.size && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    let inWindow = 0;
    for (const at of this.ended.values()) if (at >= from && at <= to) inWindow++;
    const e2e = new Samples();
    for (const [id, at] of this.accepted) {
      const end = this.ended.get(id);
      if (at >= from && at <= to && end !== undefined) e2e.add(end - at);
    }
    return {
      accepted: this.accepted.size,
      terminal: this.ended.size,
      failed: this.failed,
      inWindow,
      lost: this.accepted.size - this.ended.size,
      endToEnd: e2e.latency(),
    };
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}
