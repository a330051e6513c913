// The event seam: a worker (or an API instance) announces a committed job change to every
// subscribed client, whichever API instance holds its socket. Implemented over the Socket.IO
// Redis adapter's channels (socketio-job-events.ts).
import type { JobView } from "../jobs/schemas.ts";

/** A job event as it goes on the wire, for the store's commit to publish with the write itself. */
export interface EncodedJobEvent {
  channel: string;
  message: Buffer;
}

export interface JobEventPublisher {
  /** Fire-and-forget: never throws, and leaves no promise to reject (a broker outage must not end
   * the process); a lost event is logged, and clients converge through snapshots. */
  publish(view: JobView): void;
  /** What `publish(view)` would send, unsent: a commit that carries it (CommitOptions.event) saves
   * the publish its own command. Absent, or null, where there is no such wire form. */
  encode?(view: JobView): EncodedJobEvent | null;
  /** Told of an encoded event its commit published (metrics). */
  sentWithCommit?(view: JobView): void;
}
