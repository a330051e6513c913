// Job control over Redis sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7): one channel per job shard
// (names.ts), so on Redis Cluster a cancel goes to the node of the job's shard only instead of being
// broadcast to every node; a worker subscribes to every shard's channel. node-redis resubscribes the
// channels after a reconnect (then 'ready' fires, and onResubscribed listeners with it); a subscribe
// that fails while Redis is down is retried here, since node-redis forgets a subscription that never began.
import { z } from "zod";
import { JobId } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import { backoffDelay, sleep } from "../queue/backoff.ts";
import type { Names } from "../store/names.ts";
import { type RedisClient, redisCall } from "../store/redis-job-store.ts";
import type { CancelListener, JobControlPublisher, JobControlSubscriber } from "./job-control.ts";

const ControlMessage = z.discriminatedUnion("type", [z.object({ type: z.literal("cancel"), jobId: JobId })]);

export class RedisJobControlPublisher implements JobControlPublisher {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
  ) {}

  /** Rejects with StoreUnavailableError when Redis is unreachable (the API answers 503). */
  async requestCancel(jobId: string): Promise<void> {
    await redisCall(this.redis, () =>
      this.redis.sPublish(
        this.names.controlChannel(this.names.shardOf(jobId)),
        JSON.stringify({ type: "cancel", jobId }),
      ),
    );
  }
}

export class RedisJobControlSubscriber implements JobControlSubscriber {
  private readonly resubscribed = new Set<() => void>();
  private listening = false;

  /** `subscriber` must be a dedicated connection. */
  constructor(
    private readonly subscriber: RedisClient,
    private readonly names: Names,
    private readonly log: Logger,
  ) {
    // 'ready' comes after node-redis has resubscribed, so the channel is live again by then.
    subscriber.on("ready", () => {
      if (!this.listening) return;
      this.log.info("control channel subscriptions restored");
      for (const l of this.resubscribed) this.notify(l);
    });
  }

  async onCancel(listener: CancelListener): Promise<void> {
    const onMessage = (raw: string) => {
      const parsed = ControlMessage.safeParse(safeJson(raw));
      if (!parsed.success) {
        this.log.warn("ignoring a malformed control message");
        return;
      }
      try {
        listener(parsed.data.jobId);
      } catch (err) {
        this.log.warn("a cancel listener failed", { jobId: parsed.data.jobId, error: String(err) });
      }
    };
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.subscriber.isReady) throw new Error("Redis is not connected");
        // One SSUBSCRIBE per channel (each is its own slot), sent together.
        await Promise.all(
          this.names.shards.map((k) => this.subscriber.sSubscribe(this.names.controlChannel(k), onMessage)),
        );
        this.listening = true;
        return;
      } catch (err) {
        if (!this.subscriber.isOpen) throw err; // closed for good (shutdown): nothing to wait for
        if (attempt === 1 || attempt % 20 === 0) {
          this.log.warn("cannot subscribe to the control channels yet; retrying", { attempt, error: String(err) });
        }
        await sleep(backoffDelay(attempt, 100, 2_000));
      }
    }
  }

  onResubscribed(listener: () => void): void {
    this.resubscribed.add(listener);
  }

  private notify(listener: () => void): void {
    try {
      listener();
    } catch (err) {
      this.log.warn("an onResubscribed listener failed", { error: String(err) });
    }
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
