// The change-feed seam: an API instance learns of committed job changes to wake long polls and
// feed SSE streams. Redis pub/sub implements it (redis-job-changes.ts). Pub/sub is at-most-once,
// so every consumer reads the store after subscribing and treats the feed as a hint to re-read.
import type { JobRecord } from "../jobs/schemas.ts";

export type ChangeListener = (record: JobRecord) => void;

export interface JobChangeFeed {
  /**
   * Resolves once the subscription is live; the returned function unsubscribes. Rejects with a
   * StoreUnavailableError when it cannot subscribe (Redis unreachable), leaving nothing behind:
   * the next watch() of that job tries again. A live subscription survives a reconnect.
   */
  watch(jobId: string, listener: ChangeListener): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
