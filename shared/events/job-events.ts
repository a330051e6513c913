// The event seam: a worker (or an API instance) announces a committed job change to every
// subscribed client, whichever API instance holds its socket or its SSE stream or long poll.
// Implemented over the Socket.IO sharded Redis adapter's channels (socketio-job-events.ts).
import type { JobView } from "../jobs/schemas.ts";

export interface JobEventPublisher {
  /** Fire-and-forget: never throws, and leaves no promise to reject (a broker outage must not end
   * the process); a lost event is logged, and clients converge through snapshots. */
  publish(view: JobView): void;
  /** The message `publish(view)` would send on the job's events channel, unsent: a commit that
   * carries it (CommitOptions.event) saves the publish its own command. Absent, or null, where there
   * is no such wire form. */
  encode?(view: JobView): Buffer | null;
  /** Told of an encoded event its commit published (metrics). */
  sentWithCommit?(view: JobView): void;
}
