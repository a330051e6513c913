// JobChangeFeed on Redis pub/sub: one subscriber connection per process, one SUBSCRIBE per job
// that has local watchers (reference counted). node-redis resubscribes after a reconnect.
import type { ChangeListener, JobChangeFeed } from "./job-changes.ts";
import type { Logger } from "./log.ts";
import type { Names } from "./names.ts";
import type { RedisClient } from "./redis-job-store.ts";
import { JobRecord } from "./schemas.ts";

export class RedisJobChanges implements JobChangeFeed {
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly pending = new Map<string, Promise<void>>();

  /** `subscriber` must be a dedicated connection (a subscribed client can run nothing else). */
  constructor(
    private readonly subscriber: RedisClient,
    private readonly names: Names,
    private readonly log: Logger,
  ) {}

  async watch(jobId: string, listener: ChangeListener): Promise<() => Promise<void>> {
    const channel = this.names.jobChangesChannel(jobId);
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      const subscribed = this.subscriber.subscribe(channel, (message) => this.dispatch(channel, message));
      this.pending.set(channel, subscribed);
      subscribed.finally(() => this.pending.delete(channel)).catch(() => {});
    }
    set.add(listener);
    await this.pending.get(channel);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const current = this.listeners.get(channel);
      current?.delete(listener);
      if (current && current.size === 0) {
        this.listeners.delete(channel);
        await this.subscriber.unsubscribe(channel).catch((err: unknown) => {
          this.log.warn("unsubscribe failed", { channel, error: String(err) });
        });
      }
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private dispatch(channel: string, message: string): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    let record: JobRecord;
    try {
      record = JobRecord.parse(JSON.parse(message));
    } catch (err) {
      this.log.warn("ignoring a malformed change message", { channel, error: String(err) });
      return;
    }
    for (const l of set) l(record);
  }
}
