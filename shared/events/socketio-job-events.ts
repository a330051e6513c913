// JobEventPublisher through the Socket.IO backplane: @socket.io/redis-emitter publishes into the
// Redis adapter's channels, and each API instance delivers to the sockets it holds in the job's room.
import { Emitter } from "@socket.io/redis-emitter";
import type { JobView } from "../jobs/schemas.ts";
import { createLogger, type Logger } from "../observability/log.ts";
import type { Names } from "../store/names.ts";
import type { RedisClient } from "../store/redis-job-store.ts";
import type { EncodedJobEvent, JobEventPublisher } from "./job-events.ts";
import type { ServerToClientEvents } from "./realtime-events.ts";

/** Of a run of failed publishes (an outage), the first and every this many are logged. */
const LOG_EVERY = 100;

export class SocketIoJobEvents implements JobEventPublisher {
  private readonly emitter: Emitter<ServerToClientEvents>;
  /** The same emitter's wire form, caught instead of sent (its publish is synchronous). */
  private readonly encoder: Emitter<ServerToClientEvents>;
  private caught: EncodedJobEvent | null = null;
  private failed = 0;
  private failedInARow = 0;

  /** `log` should be the process's logger; without it failures go to a bare one on stderr. */
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    private readonly log: Logger = createLogger("warn", { component: "job-events" }),
  ) {
    // The emitter drops the promise of its PUBLISH, and node-redis rejects it when the connection
    // is down or drops mid-command: an unhandled rejection that would end the process. So the
    // emitter gets a client whose publish settles every promise itself.
    const publisher = { publish: (channel: string, message: string | Buffer) => this.send(channel, message) };
    this.emitter = new Emitter<ServerToClientEvents>(publisher, { key: names.socketIoKey });
    const catcher = {
      publish: (channel: string, message: string | Buffer) => {
        this.caught = { channel, message: Buffer.isBuffer(message) ? message : Buffer.from(message) };
      },
    };
    this.encoder = new Emitter<ServerToClientEvents>(catcher, { key: names.socketIoKey });
  }

  encode(view: JobView): EncodedJobEvent | null {
    this.caught = null;
    try {
      this.encoder.to(this.names.jobRoom(view.id)).emit("job", view);
    } catch (err) {
      this.failure(err, view.id);
    }
    const caught = this.caught as EncodedJobEvent | null;
    this.caught = null;
    return caught;
  }

  /** Publishes that failed since this publisher was made (the events are lost; clients resync). */
  get failures(): number {
    return this.failed;
  }

  publish(view: JobView): void {
    try {
      this.emitter.to(this.names.jobRoom(view.id)).emit("job", view);
    } catch (err) {
      this.failure(err, view.id);
    }
  }

  private async send(channel: string, message: string | Buffer): Promise<void> {
    try {
      await this.redis.publish(channel, message);
      this.failedInARow = 0;
    } catch (err) {
      this.failure(err);
    }
  }

  private failure(err: unknown, jobId?: string): void {
    this.failed++;
    this.failedInARow++;
    if (this.failedInARow === 1 || this.failedInARow % LOG_EVERY === 0) {
      this.log.warn("job event not published; subscribers resync from the job's state", {
        error: String(err),
        failures: this.failed,
        failuresInARow: this.failedInARow,
        ...(jobId ? { jobId } : {}),
      });
    }
  }
}
