// The publishing half of the RabbitMQ queue: one confirm channel per connection, opened on first
// use, and publishes that resolve only on the broker's confirm (mandatory, so an unroutable message
// fails instead of vanishing). The connection itself is rabbit-job-queue.ts's.
import type { ChannelModel, ConfirmChannel } from "amqplib";
import type { JobMessage } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import { messageHeaders } from "../observability/tracing.ts";
import type { Names } from "../store/names.ts";
import { closeChannel, withTimeout } from "./amqp-channels.ts";
import { type PublishOptions, QueueUnavailableError } from "./job-queue.ts";
import { retryTier } from "./queue-topology.ts";

export class RabbitPublisher {
  private open: Promise<ConfirmChannel> | null = null;
  /** The channel `open` resolved to, with its connection, while it lives: a publish on an open
   * channel takes it as it is, without a timer and a race of promises to wait for it. */
  private ready: { model: ChannelModel; ch: ConfirmChannel } | null = null;
  /** Message ids the broker returned as unroutable; their confirm must then fail. */
  private readonly returned = new Set<string>();

  constructor(
    private readonly names: Names,
    private readonly log: Logger,
    /** How long a publish may wait for the broker's confirm. */
    private readonly publishTimeoutMs: number,
  ) {}

  /** The connection changed: the next publish opens a channel on the new one. */
  reset(): void {
    this.open = null;
    this.ready = null;
  }

  async publish(model: ChannelModel | null, message: JobMessage, opts: PublishOptions = {}): Promise<void> {
    const { names, publishTimeoutMs } = this;
    // The whole publish, opening the channel included, fits in publishTimeoutMs: a broker that
    // keeps the connection but answers nothing must not hold a submit for ever.
    const deadline = Date.now() + publishTimeoutMs;
    const ch =
      model && this.ready?.model === model
        ? this.ready.ch
        : await withTimeout(this.channel(model), publishTimeoutMs, "no publish channel from RabbitMQ");
    const body = Buffer.from(JSON.stringify(message));
    const messageId = message.jobId;
    // A delayed message waits in a retry tier queue (default exchange, routed by queue name).
    const delayed = opts.delayMs !== undefined;
    const exchange = delayed ? "" : names.jobsExchange;
    const routingKey = delayed ? names.retryQueue(retryTier(opts.delayMs ?? 0)) : names.jobsRoutingKey;
    const expiration = delayed ? { expiration: String(Math.max(0, Math.round(opts.delayMs ?? 0))) } : {};
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new QueueUnavailableError(`no confirm from RabbitMQ within ${publishTimeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      );
      try {
        ch.publish(
          exchange,
          routingKey,
          body,
          {
            persistent: true,
            mandatory: true,
            contentType: "application/json",
            messageId,
            headers: messageHeaders(opts.requestId),
            ...expiration,
          },
          (err: unknown) => {
            clearTimeout(timer);
            const unroutable = this.returned.delete(messageId);
            if (err) reject(new QueueUnavailableError(`RabbitMQ refused the message: ${String(err)}`));
            else if (unroutable) reject(new QueueUnavailableError("RabbitMQ could not route the message"));
            else resolve();
          },
        );
      } catch (err) {
        clearTimeout(timer);
        reject(new QueueUnavailableError(`publish failed: ${String(err)}`));
      }
    });
  }

  /** The confirm channel on `model`, opened on first use. */
  channel(model: ChannelModel | null): Promise<ConfirmChannel> {
    if (!model) return Promise.reject(new QueueUnavailableError("not connected to RabbitMQ"));
    if (!this.open) {
      const created = model.createConfirmChannel().then((ch) => {
        ch.on("error", (err: Error) => this.log.warn("RabbitMQ publish channel error", { error: err.message }));
        ch.on("close", () => {
          if (this.open === created) this.open = null;
          if (this.ready?.ch === ch) this.ready = null;
        });
        ch.on("return", (msg: { properties: { messageId?: string } }) => {
          if (msg.properties.messageId) this.returned.add(msg.properties.messageId);
        });
        if (this.open === created) this.ready = { model, ch };
        return ch;
      });
      created.catch(() => {
        if (this.open === created) this.open = null;
      });
      this.open = created;
    }
    return this.open.catch((err: unknown) => {
      throw new QueueUnavailableError(`no RabbitMQ channel: ${String(err)}`);
    });
  }

  async close(): Promise<void> {
    const ch = this.open && (await withTimeout(this.open, 2_000, "").catch(() => null));
    if (!ch) return;
    try {
      await closeChannel(ch);
    } catch (err) {
      this.log.warn("closing a RabbitMQ channel failed", { error: String(err) });
    }
  }
}
