// JobEventPublisher through the Socket.IO backplane: a `job` event to the job's room, in the
// sharded Redis adapter's own message format (sharded-room-message.ts), SPUBLISHed on the room's
// channel. Only API instances holding a socket in the room (and those whose change feed watches
// the job for SSE or a long poll) are subscribed to it.
import type { JobView } from "../jobs/schemas.ts";
import { createLogger, type Logger } from "../observability/log.ts";
import type { Names } from "../store/names.ts";
import type { RedisClient } from "../store/redis-job-store.ts";
import type { JobEventPublisher } from "./job-events.ts";
import type { ServerToClientEvents } from "./realtime-events.ts";
import { encodeRoomBroadcast } from "./sharded-room-message.ts";

/** Of a run of failed publishes (an outage), the first and every this many are logged. */
const LOG_EVERY = 100;

/** The message that announces `view` on its job's events channel (Names.jobEventsChannel). */
export function jobEventMessage(names: Names, view: JobView): Buffer {
  const args: Parameters<ServerToClientEvents["job"]> = [view];
  return encodeRoomBroadcast(names.jobRoom(view.id), "job", ...args);
}

export class SocketIoJobEvents implements JobEventPublisher {
  private failed = 0;
  private failedInARow = 0;

  /** `log` should be the process's logger; without it failures go to a bare one on stderr. */
  constructor(
    private readonly redis: Pick<RedisClient, "sPublish">,
    private readonly names: Names,
    private readonly log: Logger = createLogger("warn", { component: "job-events" }),
  ) {}

  encode(view: JobView): Buffer {
    return jobEventMessage(this.names, view);
  }

  /** Publishes that failed since this publisher was made (the events are lost; clients resync). */
  get failures(): number {
    return this.failed;
  }

  publish(view: JobView): void {
    // node-redis rejects a command when the connection is down or drops mid-command: settle here,
    // so an outage never leaves an unhandled rejection behind.
    void this.send(view);
  }

  private async send(view: JobView): Promise<void> {
    try {
      await this.redis.sPublish(this.names.jobEventsChannel(view.id), this.encode(view));
      this.failedInARow = 0;
    } catch (err) {
      this.failure(err, view.id);
    }
  }

  private failure(err: unknown, jobId: string): void {
    this.failed++;
    this.failedInARow++;
    if (this.failedInARow === 1 || this.failedInARow % LOG_EVERY === 0) {
      this.log.warn("job event not published; subscribers resync from the job's state", {
        error: String(err),
        failures: this.failed,
        failuresInARow: this.failedInARow,
        jobId,
      });
    }
  }
}
