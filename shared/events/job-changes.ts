// The change-feed seam: an API instance learns of committed job changes to wake long polls and
// feed SSE streams. Redis sharded pub/sub implements it (redis-job-changes.ts), on the channel that
// carries the job's Socket.IO events: each change is published once, for every channel. Pub/sub is
// at-most-once, so every consumer reads the store after subscribing and treats the feed as a hint.
import type { JobView } from "../jobs/schemas.ts";

/** Gets the job's new public view (what its Socket.IO `job` event carries), not the record. */
export type ChangeListener = (view: JobView) => void;

export interface JobChangeFeed {
  /**
   * Resolves once the subscription is live; the returned function unsubscribes. Rejects with a
   * StoreUnavailableError when it cannot subscribe (Redis unreachable), leaving nothing behind:
   * the next watch() of that job tries again. A live subscription survives a reconnect.
   */
  watch(jobId: string, listener: ChangeListener): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
