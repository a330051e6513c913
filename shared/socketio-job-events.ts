// JobEventPublisher through the Socket.IO backplane: @socket.io/redis-emitter publishes into the
// Redis adapter's channels, and each API instance delivers to the sockets it holds in the job's room.
import { Emitter } from "@socket.io/redis-emitter";
import type { JobEventPublisher } from "./job-events.ts";
import type { Names } from "./names.ts";
import type { ServerToClientEvents } from "./realtime-events.ts";
import type { RedisClient } from "./redis-job-store.ts";
import type { JobView } from "./schemas.ts";

export class SocketIoJobEvents implements JobEventPublisher {
  private readonly emitter: Emitter<ServerToClientEvents>;

  constructor(
    redis: RedisClient,
    private readonly names: Names,
  ) {
    this.emitter = new Emitter<ServerToClientEvents>(redis, { key: names.socketIoKey });
  }

  publish(view: JobView): void {
    this.emitter.to(this.names.jobRoom(view.id)).emit("job", view);
  }
}
