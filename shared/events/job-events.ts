// The event seam: a worker (or an API instance) announces a committed job change to every
// subscribed client, whichever API instance holds its socket. Implemented over the Socket.IO
// Redis adapter's channels (socketio-job-events.ts).
import type { JobView } from "../jobs/schemas.ts";

export interface JobEventPublisher {
  /** Fire-and-forget: never throws, and leaves no promise to reject (a broker outage must not end
   * the process); a lost event is logged, and clients converge through snapshots. */
  publish(view: JobView): void;
}
