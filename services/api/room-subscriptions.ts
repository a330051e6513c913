// The sharded Socket.IO adapter's subscriber connection, as the adapter gets it. In its "dynamic"
// mode the adapter SSUBSCRIBEs a room's channel when the room is created (a socket joins it first)
// and SUNSUBSCRIBEs when it empties, dropping both promises. So this wrapper:
// - settles them (node-redis rejects a command the connection drops: unhandled, that ends the process);
// - lets a join wait until its room's channel is live ("join first, read second" needs it);
// - subscribes again, once Redis is back, a channel whose SSUBSCRIBE failed while its room still
//   exists (node-redis restores only the subscriptions that had succeeded).
import type { Logger } from "../../shared/observability/log.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

type Listener = (message: Buffer, channel: Buffer) => unknown;

/** What of a node-redis client the sharded adapter calls on its subscriber. */
export interface ShardedSubscriber {
  sSubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  sUnsubscribe(channel: string): Promise<void>;
}

interface Wanted {
  listener: Listener;
  /** The last SSUBSCRIBE's outcome: resolves once answered, rejects when it failed. */
  live: Promise<void>;
  failed: boolean;
}

export class RoomSubscriptions {
  private readonly wanted = new Map<string, Wanted>();
  private readonly onReady = () => this.retryFailed();

  constructor(
    private readonly subscriber: Pick<RedisClient, "sSubscribe" | "sUnsubscribe" | "on" | "off">,
    private readonly log: Logger,
  ) {
    subscriber.on("ready", this.onReady);
  }

  /** The client to give createShardedAdapter. */
  readonly client: ShardedSubscriber = {
    sSubscribe: async (channel, listener) => {
      this.subscribe(channel, listener);
    },
    sUnsubscribe: async (channel) => {
      this.wanted.delete(channel);
      await this.subscriber.sUnsubscribe(channel).catch((err: unknown) => {
        this.log.warn("room channel unsubscribe failed", { channel, error: String(err) });
      });
    },
  };

  /** Resolves once the channel is subscribed; rejects if its SSUBSCRIBE failed. A channel this
   * wrapper never saw (no room for it) resolves at once. */
  live(channel: string): Promise<void> {
    return this.wanted.get(channel)?.live ?? Promise.resolve();
  }

  close(): void {
    this.subscriber.off("ready", this.onReady);
    this.wanted.clear();
  }

  private subscribe(channel: string, listener: Listener): void {
    const entry: Wanted = { listener, live: Promise.resolve(), failed: false };
    entry.live = this.subscriber.sSubscribe(channel, listener, true).catch((err: unknown) => {
      entry.failed = true;
      this.log.warn("room channel subscribe failed; retrying once Redis is back", { channel, error: String(err) });
      throw err;
    });
    entry.live.catch(() => {}); // a waiting join hears of it through live(); nobody else need
    this.wanted.set(channel, entry);
  }

  private retryFailed(): void {
    for (const [channel, entry] of this.wanted) {
      if (entry.failed && this.wanted.get(channel) === entry) this.subscribe(channel, entry.listener);
    }
  }
}
