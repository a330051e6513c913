// The consuming half of the RabbitMQ queue: one consumer channel per connection with manual acks
// and a prefetch, started again when the broker cancels it or its channel dies while the connection
// lives (e.g. a quorum queue that lost its leader). The connection itself is rabbit-job-queue.ts's.
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Logger } from "../observability/log.ts";
import { AckBatch } from "./ack-batch.ts";
import { closeChannel } from "./amqp-channels.ts";
import type { Delivery, DeliveryHandler } from "./job-queue.ts";

export interface ConsumerHost {
  readonly queue: string;
  readonly log: Logger;
  /** Whether `model` is still the live connection and consuming should go on there. */
  isCurrent(model: ChannelModel): boolean;
}

export class RabbitConsumer {
  private channel: Channel | null = null;
  private tag: string | null = null;
  private stopped = false;
  /** A restartSoon is opening a channel now (so that two never do at once). */
  private starting = false;
  /** Open consumer channels, including one whose consumer was cancelled but whose acks may follow;
   * each with its acks not yet sent. */
  private readonly channels = new Map<Channel, AckBatch>();

  constructor(
    private readonly host: ConsumerHost,
    private readonly handler: DeliveryHandler,
    private readonly prefetch: number,
  ) {}

  /** The connection was lost: its channels are gone with it. */
  detach(): void {
    this.channel = null;
    this.tag = null;
  }

  /** Opens a consumer channel on `model` and consumes the queue. */
  async start(model: ChannelModel): Promise<void> {
    if (this.stopped) return;
    const { log, queue } = this.host;
    const ch = await model.createChannel();
    let open = true;
    ch.on("error", (err: Error) => log.warn("RabbitMQ consumer channel error", { error: err.message }));
    const acks = new AckBatch(ch, (err) => log.warn("acking on the consumer channel failed", { error: String(err) }));
    this.channels.set(ch, acks);
    ch.on("close", () => {
      open = false;
      acks.drop();
      this.channels.delete(ch);
      if (this.channel !== ch) return;
      this.detach();
      // The channel died but the connection lives (e.g. a protocol error): open a new one.
      if (this.host.isCurrent(model)) this.restartSoon(model);
    });
    await ch.prefetch(this.prefetch);
    this.channel = ch;
    // After a cancel by the broker this channel takes no new deliveries but still settles the ones
    // it has; it is closed once they are settled (closing earlier would requeue them).
    let unsettled = 0;
    let cancelled = false;
    const closeIfDone = () => {
      if (!(cancelled && unsettled === 0 && open)) return;
      acks.flush(); // before the close, which would requeue them
      ch.close().catch(() => undefined); // a dead channel is closed
    };
    const reply = await ch.consume(
      queue,
      (msg: ConsumeMessage | null) => {
        if (msg === null) {
          // The broker cancelled us (queue deleted, or its replica here gone): consume again, on
          // a new channel; this one stays until its deliveries are settled.
          log.warn("RabbitMQ cancelled the consumer; consuming again");
          cancelled = true;
          if (this.channel === ch) this.detach();
          closeIfDone();
          this.restartSoon(model);
          return;
        }
        unsettled++;
        acks.received(msg);
        let done = false;
        const once = (fn: () => void) => () => {
          if (done) return;
          done = true;
          unsettled--;
          // Settling on a dead channel is pointless (the broker requeued the message) and would throw.
          if (open) fn();
          closeIfDone();
        };
        const delivery: Delivery = {
          body: msg.content,
          redelivered: msg.fields.redelivered,
          headers: msg.properties.headers ?? {},
          ack: once(() => acks.ack(msg)),
          deadLetter: once(() => {
            acks.settled(msg);
            ch.nack(msg, false, false);
          }),
          requeue: once(() => {
            acks.settled(msg);
            ch.nack(msg, false, true);
          }),
        };
        this.handler(delivery).catch((err: unknown) => {
          log.error("delivery handler failed; requeueing", { error: err instanceof Error ? err : String(err) });
          delivery.requeue();
        });
      },
      { noAck: false },
    );
    this.tag = reply.consumerTag;
  }

  /** Whether a consumer channel runs now (false between a loss and the restart). */
  get running(): boolean {
    return this.channel !== null;
  }

  /** Starts consuming again on this connection, retrying with backoff until it runs (e.g. a
   * quorum queue answers consume only once it has a leader again). */
  restartSoon(model: ChannelModel, delayMs = 500): void {
    setTimeout(() => {
      if (!this.host.isCurrent(model) || this.stopped || this.channel || this.starting) return;
      this.starting = true;
      this.start(model)
        .catch((err: unknown) => {
          this.host.log.warn("restarting the consumer failed; trying again", { error: String(err) });
          if (!this.stopped && !this.channel) this.restartSoon(model, Math.min(delayMs * 2, 5_000));
        })
        .finally(() => {
          this.starting = false;
        });
    }, delayMs);
  }

  /** Stops taking deliveries; those in hand can still be settled on their channel. */
  async stop(): Promise<void> {
    this.stopped = true;
    const { channel, tag } = this;
    if (channel && tag) {
      try {
        await channel.cancel(tag);
      } catch (err) {
        this.host.log.warn("cancelling the consumer failed", { error: String(err) });
      }
    }
  }

  /** Closes every consumer channel (after their acks, which go out before the CloseOk). */
  async closeChannels(): Promise<void> {
    for (const [ch, acks] of [...this.channels]) {
      try {
        acks.flush(); // before the close, which would requeue them
        await closeChannel(ch);
      } catch (err) {
        this.host.log.warn("closing a RabbitMQ channel failed", { error: String(err) });
      }
    }
  }
}
