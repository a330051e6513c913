// JobChangeFeed on Redis sharded pub/sub: one subscriber connection per process, one SSUBSCRIBE per
// job that has local watchers (reference counted), on the job's events channel: the `job` events
// to its Socket.IO room (sharded-room-message.ts), the one publish of each change. Its own
// connection, not the Socket.IO adapter's: the adapter's SUNSUBSCRIBE, when a room empties, drops
// every listener of the channel on its connection. node-redis resubscribes live subscriptions after
// a reconnect (test/faults/redis-resubscribe.test.ts checks it); an SSUBSCRIBE that fails leaves no
// entry here, so the next watcher of that job subscribes again instead of waiting on nothing.

import { JobView } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import { StoreUnavailableError } from "../store/job-store.ts";
import type { Names } from "../store/names.ts";
import type { RedisClient } from "../store/redis-job-store.ts";
import type { ChangeListener, JobChangeFeed } from "./job-changes.ts";
import { decodeRoomBroadcast, probeNonce } from "./sharded-room-message.ts";

/** A channel's local watchers and its SSUBSCRIBE (pending, live, or failed). */
interface Subscription {
  readonly listeners: Set<ChangeListener>;
  readonly live: Promise<void>;
}

export class RedisJobChanges implements JobChangeFeed {
  private readonly channels = new Map<string, Subscription>();
  /** Channels whose SUNSUBSCRIBE failed: node-redis still holds (and resubscribes) them. */
  private readonly orphans = new Set<string>();
  // One function for every channel, so node-redis never holds two listeners for one channel. Messages
  // arrive as strings (no buffer mode); the Buffer in the type is what a cluster client's UNSUBSCRIBE asks for.
  private readonly onMessage = (message: string | Buffer, channel: string | Buffer) =>
    this.dispatch(String(channel), String(message));
  private readonly onReady = () => this.dropOrphans();

  /** `subscriber` must be a dedicated connection (a subscribed client can run nothing else). */
  constructor(
    private readonly subscriber: RedisClient,
    private readonly names: Names,
    private readonly log: Logger,
  ) {
    subscriber.on("ready", this.onReady);
  }

  async watch(jobId: string, listener: ChangeListener): Promise<() => Promise<void>> {
    const channel = this.names.jobEventsChannel(jobId);
    let sub = this.channels.get(channel);
    if (!sub) {
      const created: Subscription = { listeners: new Set(), live: this.subscribe(channel) };
      // A failed SSUBSCRIBE leaves nothing behind: the next watch() of this job subscribes anew.
      created.live.catch(() => {
        if (this.channels.get(channel) === created) this.channels.delete(channel);
      });
      this.channels.set(channel, created);
      this.orphans.delete(channel);
      sub = created;
    }
    sub.listeners.add(listener);
    try {
      await sub.live;
    } catch (err) {
      sub.listeners.delete(listener);
      throw new StoreUnavailableError(`cannot watch job ${jobId}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const watched = sub;
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      watched.listeners.delete(listener);
      if (watched.listeners.size > 0 || this.channels.get(channel) !== watched) return;
      this.channels.delete(channel);
      await this.unsubscribe(channel);
    };
  }

  async close(): Promise<void> {
    this.subscriber.off("ready", this.onReady);
    this.channels.clear();
    this.orphans.clear();
  }

  private async subscribe(channel: string): Promise<void> {
    // node-redis would queue an SSUBSCRIBE while disconnected (and fail it at its next reconnect
    // attempt); a watcher had better hear at once that Redis is not there.
    if (!this.subscriber.isReady) throw new Error("Redis is not connected");
    await this.subscriber.sSubscribe(channel, this.onMessage);
  }

  private async unsubscribe(channel: string): Promise<void> {
    try {
      await this.subscriber.sUnsubscribe(channel, this.onMessage);
    } catch (err) {
      // Still subscribed in node-redis (and again after its reconnect): drop it when Redis is back.
      this.orphans.add(channel);
      this.log.warn("unsubscribe failed; retrying once Redis is back", { channel, error: String(err) });
    }
  }

  private dropOrphans(): void {
    const channels = [...this.orphans].filter((c) => !this.channels.has(c));
    this.orphans.clear();
    for (const channel of channels) void this.unsubscribe(channel); // unsubscribe() never rejects
  }

  private dispatch(channel: string, message: string): void {
    const sub = this.channels.get(channel);
    if (!sub || probeNonce(message) !== null) return; // an API instance's liveness probe (room-resync.ts)
    const broadcast = decodeRoomBroadcast(message);
    const view = broadcast?.event === "job" ? JobView.safeParse(broadcast.args[0]) : null;
    if (!view?.success) {
      this.log.warn("ignoring a malformed job event", { channel, error: String(view?.error ?? "not a job event") });
      return;
    }
    for (const l of sub.listeners) {
      // This runs inside node-redis's socket reader: a throwing listener must not reach it.
      try {
        l(view.data);
      } catch (err) {
        this.log.warn("a change listener failed", { channel, error: String(err) });
      }
    }
  }
}
