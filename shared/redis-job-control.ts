// Job control over one Redis channel per namespace.
import { z } from "zod";
import type { CancelListener, JobControlPublisher, JobControlSubscriber } from "./job-control.ts";
import type { Logger } from "./log.ts";
import type { Names } from "./names.ts";
import type { RedisClient } from "./redis-job-store.ts";
import { JobId } from "./schemas.ts";

const ControlMessage = z.discriminatedUnion("type", [z.object({ type: z.literal("cancel"), jobId: JobId })]);

export class RedisJobControlPublisher implements JobControlPublisher {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
  ) {}

  async requestCancel(jobId: string): Promise<void> {
    await this.redis.publish(this.names.controlChannel, JSON.stringify({ type: "cancel", jobId }));
  }
}

export class RedisJobControlSubscriber implements JobControlSubscriber {
  /** `subscriber` must be a dedicated connection. */
  constructor(
    private readonly subscriber: RedisClient,
    private readonly names: Names,
    private readonly log: Logger,
  ) {}

  async onCancel(listener: CancelListener): Promise<void> {
    await this.subscriber.subscribe(this.names.controlChannel, (raw) => {
      const parsed = ControlMessage.safeParse(safeJson(raw));
      if (!parsed.success) {
        this.log.warn("ignoring a malformed control message");
        return;
      }
      listener(parsed.data.jobId);
    });
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
