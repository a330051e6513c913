// The sharded Socket.IO adapter's subscriber connection, as the adapter gets it. In its "dynamic"
// mode the adapter SSUBSCRIBEs a room's channel when the room is created (a socket joins it first)
// and SUNSUBSCRIBEs when it empties, dropping both promises. So this wrapper:
// - settles them (node-redis rejects a command the connection drops: unhandled, that ends the process);
// - lets a join wait until its room's channel is live ("join first, read second" needs it);
// - subscribes again, once Redis is back, a channel whose SSUBSCRIBE failed while its room still
//   exists (node-redis restores only the subscriptions that had succeeded);
// - catches a job room up after its subscription was disturbed (room-resync.ts), and passes each
//   job version to the adapter once: an event that arrives after the catch-up delivered its
//   version (or a newer one) is dropped, so a socket gets every version once and in order.

import { jobEventVersion, probeNonce } from "../../shared/events/sharded-room-message.ts";
import type { JobRecord } from "../../shared/jobs/schemas.ts";
import type { Logger } from "../../shared/observability/log.ts";
import { onConnectionChanges, type RedisClient } from "../../shared/store/redis-client.ts";
import { RoomResync } from "./room-resync.ts";

type Listener = (message: Buffer, channel: Buffer) => unknown;

/** What of a node-redis client the sharded adapter calls on its subscriber. */
export interface ShardedSubscriber {
  sSubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  sUnsubscribe(channel: string): Promise<void>;
}

export interface RoomSubscriptionsDeps {
  /** The adapter's subscriber connection (dedicated). */
  subscriber: RedisClient;
  /** The adapter's publishing connection: sends the resync probes. */
  publisher: Pick<RedisClient, "sPublish">;
  /** The job whose room `channel` is, or null for the adapter's other channels. */
  jobOf(channel: string): string | null;
  /** Reads a job's current state (null: gone). */
  read(jobId: string): Promise<JobRecord | null>;
  /** Emits a job's state to its room's sockets on this instance. */
  deliver(record: JobRecord): void;
  log: Logger;
}

interface Wanted {
  /** What node-redis calls: filters, then hands over to the adapter's listener. */
  relay: Listener;
  /** The last SSUBSCRIBE's outcome: resolves once answered, rejects when it failed. */
  live: Promise<void>;
  failed: boolean;
  /** The job of a room channel (null: one of the adapter's own channels). */
  jobId: string | null;
  /** The newest job version passed to the room's sockets. */
  seen: number;
}

export class RoomSubscriptions {
  private readonly wanted = new Map<string, Wanted>();
  private readonly resync: RoomResync;
  private readonly stopWatching: () => void;

  constructor(private readonly deps: RoomSubscriptionsDeps) {
    this.resync = new RoomResync({
      publisher: deps.publisher,
      channels: () => this.roomChannels(),
      resubscribe: (channel) => this.resubscribe(channel),
      refresh: (channel) => this.refresh(channel),
      log: deps.log,
    });
    this.stopWatching = onConnectionChanges(deps.subscriber, {
      lost: () => this.resync.lost(),
      restored: () => {
        this.retryFailed();
        this.resync.restored();
      },
    });
  }

  /** The client to give createShardedAdapter. */
  readonly client: ShardedSubscriber = {
    sSubscribe: async (channel, listener) => {
      this.subscribe(channel, listener);
    },
    sUnsubscribe: async (channel) => {
      const entry = this.wanted.get(channel);
      this.wanted.delete(channel);
      this.resync.forget(channel);
      if (!entry) return;
      await this.deps.subscriber.sUnsubscribe(channel, entry.relay, true).catch((err: unknown) => {
        this.deps.log.warn("room channel unsubscribe failed", { channel, error: String(err) });
      });
    },
  };

  /** Resolves once the channel is subscribed; rejects if its SSUBSCRIBE failed. A channel this
   * wrapper never saw (no room for it) resolves at once. */
  live(channel: string): Promise<void> {
    return this.wanted.get(channel)?.live ?? Promise.resolve();
  }

  close(): void {
    this.stopWatching();
    this.resync.close();
    this.wanted.clear();
  }

  private subscribe(channel: string, listener: Listener): void {
    const jobId = this.deps.jobOf(channel);
    const entry: Wanted = { relay: () => {}, live: Promise.resolve(), failed: false, jobId, seen: 0 };
    entry.relay = (message, from) => {
      const nonce = probeNonce(message);
      if (nonce !== null) return this.resync.heard(nonce); // ours, or another instance's: never the adapter's
      if (entry.jobId !== null) {
        const version = jobEventVersion(message);
        if (version !== null) {
          if (version <= entry.seen) {
            // Delivered already (by a catch-up). Rare: logged, as a version that went back (a
            // write lost in a failover) would be dropped here too.
            this.deps.log.info("room event not newer than delivered; dropped", { channel, version, seen: entry.seen });
            return;
          }
          entry.seen = version;
        }
      }
      return listener(message, from);
    };
    this.wanted.set(channel, entry);
    this.send(channel, entry);
  }

  private send(channel: string, entry: Wanted): void {
    entry.failed = false;
    entry.live = this.deps.subscriber.sSubscribe(channel, entry.relay, true).catch((err: unknown) => {
      entry.failed = true;
      this.deps.log.warn("room channel subscribe failed; retrying once Redis is back", {
        channel,
        error: String(err),
      });
      throw err;
    });
    entry.live.catch(() => {}); // a waiting join hears of it through live(); nobody else need
  }

  private retryFailed(): void {
    for (const [channel, entry] of this.wanted) if (entry.failed) this.send(channel, entry);
  }

  private *roomChannels(): Iterable<string> {
    for (const [channel, entry] of this.wanted) if (entry.jobId !== null) yield channel;
  }

  private async resubscribe(channel: string): Promise<void> {
    const entry = this.wanted.get(channel);
    if (!entry) return;
    // Unsubscribe first: node-redis sends no SSUBSCRIBE for a listener it already holds, and after a
    // failover it may hold one whose subscription never reached the new master.
    await this.deps.subscriber.sUnsubscribe(channel, entry.relay, true).catch(() => undefined);
    if (this.wanted.get(channel) !== entry) return; // the room went away meanwhile
    this.send(channel, entry);
    await entry.live;
  }

  private async refresh(channel: string): Promise<void> {
    const entry = this.wanted.get(channel);
    if (entry?.jobId == null) return;
    const record = await this.deps.read(entry.jobId);
    // An event may have passed this version (or a newer one) on while the read was out.
    if (!record || record.version <= entry.seen || this.wanted.get(channel) !== entry) return;
    entry.seen = record.version;
    this.deps.deliver(record);
  }
}
