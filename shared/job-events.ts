// The event seam: a worker (or an API instance) announces a committed job change to every
// subscribed client, whichever API instance holds its socket. Implemented over the Socket.IO
// Redis adapter's channels (socketio-job-events.ts).
import type { JobView } from "./schemas.ts";

export interface JobEventPublisher {
  /** Fire-and-forget: clients converge through snapshots if an event is lost. */
  publish(view: JobView): void;
}
