// A job transition whose committed change is announced to the realtime channels: by the commit
// itself when the publisher can encode the event (one Redis command for the write and both
// publishes), else published right after it.
import { toView } from "../jobs/job-view.ts";
import type { JobRecord, JobView } from "../jobs/schemas.ts";
import { type Change, type JobStore, transition } from "../store/job-store.ts";
import type { JobEventPublisher } from "./job-events.ts";

export async function announcedTransition(
  store: JobStore,
  events: JobEventPublisher,
  id: string,
  change: Change,
  opts: Omit<Parameters<typeof transition>[3], "event"> = {},
): Promise<JobRecord | null> {
  const encode = events.encode?.bind(events);
  let sent: JobView | null = null; // the view the last commit try carried
  const committed = await transition(store, id, change, {
    ...opts,
    ...(encode
      ? {
          event: (next: JobRecord) => {
            const view = toView(next);
            const event = encode(view);
            sent = event ? view : null;
            return event;
          },
        }
      : {}),
  });
  if (committed) {
    if (sent) events.sentWithCommit?.(sent);
    else events.publish(toView(committed));
  }
  return committed;
}
