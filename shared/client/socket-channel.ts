// Follows jobs over one shared Socket.IO connection: `subscribe` (with ack = snapshot) per job,
// `job` events after that, resubscription (and so a fresh snapshot) after every reconnect, and a
// periodic resubscribe that repairs an event lost by at-most-once pub/sub. Gives up (so the
// watcher falls back to SSE) when it cannot connect or stays disconnected too long.
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents, SubscribeReply } from "../events/realtime-events.ts";
import type { JobView } from "../jobs/schemas.ts";
import { asJobView, isJobView } from "./job-guards.ts";
import { type Channel, type ChannelContext, JobAccessError } from "./types.ts";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface SocketChannelOptions {
  /** Passed to socket.io-client's io(), e.g. { transports: ["websocket"] }. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** How long to wait for a connection before falling back. Default 5 s. */
  connectTimeoutMs?: number;
  /** How long a dropped connection may take to come back before falling back. Default 10 s. */
  reconnectTimeoutMs?: number;
  /** Resubscribe (fresh snapshot) after this long without news. Default 30 s. */
  resyncMs?: number;
  ackTimeoutMs?: number;
}

interface Follower {
  apply(view: JobView): void;
  wake(): void;
}

const accessErrors = new Set(["urn:herald:problem:not-found", "urn:herald:problem:unauthorized"]);

export class SocketHub {
  private socket: ClientSocket | null = null;
  private readonly followers = new Map<string, Follower>();

  constructor(
    private readonly url: string,
    private readonly opts: SocketChannelOptions = {},
  ) {}

  channel(): Channel {
    return (ctx) => this.follow(ctx);
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  private ensureSocket(): ClientSocket {
    if (this.socket) return this.socket;
    const socket: ClientSocket = io(this.url, { path: "/socket.io", ...this.opts.socketOptions });
    // A payload that is not a job view is dropped; the periodic resubscribe repairs what it hid.
    socket.on("job", (view) => {
      if (isJobView(view)) this.followers.get(view.id)?.apply(view);
    });
    const wakeAll = () => {
      for (const f of this.followers.values()) f.wake();
    };
    socket.on("connect", wakeAll);
    socket.on("disconnect", (reason) => {
      // A server-side disconnect (e.g. shutdown) is not retried by socket.io itself.
      if (reason === "io server disconnect") socket.connect();
      wakeAll();
    });
    socket.on("connect_error", wakeAll);
    this.socket = socket;
    return socket;
  }

  private async follow(ctx: ChannelContext): Promise<void> {
    const socket = this.ensureSocket();
    const resyncMs = this.opts.resyncMs ?? 30_000;
    let wake: () => void = () => {};
    const follower: Follower = {
      apply: (view) => {
        ctx.apply(view);
        wake();
      },
      wake: () => wake(),
    };
    this.followers.set(ctx.job.id, follower);
    const sleep = (ms: number) =>
      new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        const onAbort = () => resolve(true);
        wake = () => {
          clearTimeout(t);
          ctx.signal.removeEventListener("abort", onAbort);
          resolve(true);
        };
        ctx.signal.addEventListener("abort", onAbort, { once: true });
      });
    try {
      let needSnapshot = true;
      while (!ctx.done() && !ctx.signal.aborted) {
        if (!socket.connected) {
          const limit =
            needSnapshot && ctx.version() === 0
              ? (this.opts.connectTimeoutMs ?? 5_000)
              : (this.opts.reconnectTimeoutMs ?? 10_000);
          const deadline = Date.now() + limit;
          while (!socket.connected && Date.now() < deadline && !ctx.signal.aborted) await sleep(deadline - Date.now());
          if (!socket.connected) throw new Error("socket unavailable");
          needSnapshot = true;
        }
        if (needSnapshot) {
          await this.subscribe(socket, ctx);
          needSnapshot = false;
          continue;
        }
        const woken = await sleep(resyncMs);
        if (!woken || !socket.connected) needSnapshot = true; // quiet too long, or reconnected: resync
      }
    } finally {
      if (this.followers.get(ctx.job.id) === follower) this.followers.delete(ctx.job.id);
      if (socket.connected) socket.emit("unsubscribe", { jobId: ctx.job.id });
    }
  }

  private async subscribe(socket: ClientSocket, ctx: ChannelContext): Promise<void> {
    const reply: SubscribeReply = await socket
      .timeout(this.opts.ackTimeoutMs ?? 5_000)
      .emitWithAck("subscribe", { jobId: ctx.job.id, token: ctx.job.token });
    if (reply.ok) return ctx.apply(asJobView(reply.job, "the subscribe ack"));
    if (accessErrors.has(reply.error.type)) throw new JobAccessError(reply.error);
    throw new Error(`subscribe refused: ${reply.error.title}`);
  }
}
