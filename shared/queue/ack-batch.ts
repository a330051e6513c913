// The acks of one consumer channel, sent once per turn of the event loop: the acked deliveries that
// are the channel's oldest unsettled ones go out as one ack with `multiple` set (one frame and one
// socket write for all of them, where each ack cost a write of its own), any other ack alone in the
// same turn, so no ack waits behind a delivery that is still running. AMQP's `multiple` acks every
// unsettled delivery up to the tag, so it is sent only for a run with nothing unsettled before it.
import type { Channel, ConsumeMessage } from "amqplib";

/** What became of a delivery: still running, acked but not yet sent, or settled on the wire. */
type State = "running" | "acked";

export class AckBatch {
  /** The channel's unsettled deliveries in delivery-tag order (ended ones are dropped from the head). */
  private order: ConsumeMessage[] = [];
  private head = 0;
  /** Deliveries not yet settled on the wire; a delivery missing here was settled. */
  private readonly state = new Map<ConsumeMessage, State>();
  /** Acks asked for in this turn. */
  private asked: ConsumeMessage[] = [];
  private scheduled = false;
  private dead = false;

  /** `failed`: an ack sent at the end of a turn threw (the channel died under it; the broker
   * requeues what it did not get). */
  constructor(
    private readonly ch: Channel,
    private readonly failed: (err: unknown) => void,
  ) {}

  /** A delivery arrived (in tag order: the consume callback runs for each, in turn). */
  received(msg: ConsumeMessage): void {
    this.order.push(msg);
    this.state.set(msg, "running");
  }

  /** Acks `msg` at the end of this turn. */
  ack(msg: ConsumeMessage): void {
    this.state.set(msg, "acked");
    this.asked.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        try {
          this.flush();
        } catch (err) {
          this.drop();
          this.failed(err);
        }
      });
    }
  }

  /** `msg` was settled another way (nack), at once. */
  settled(msg: ConsumeMessage): void {
    this.state.delete(msg);
    this.trim();
  }

  /** Sends the acks asked for so far (also before the channel closes: closing would requeue them). */
  flush(): void {
    this.scheduled = false;
    if (this.dead || this.asked.length === 0) return;
    let last: ConsumeMessage | null = null;
    let run = 0;
    for (; this.head < this.order.length; this.head++) {
      const msg = this.order[this.head] as ConsumeMessage;
      const s = this.state.get(msg);
      if (s === "running") break;
      if (s === "acked") {
        this.state.delete(msg);
        last = msg;
        run++;
      }
    }
    if (last) this.ch.ack(last, run > 1);
    for (const msg of this.asked) {
      if (this.state.get(msg) !== "acked") continue; // in the run above
      this.state.delete(msg);
      this.ch.ack(msg);
    }
    this.asked = [];
    this.trim();
  }

  /** Drops settled deliveries from the head of the order (however they were settled). */
  private trim(): void {
    while (this.head < this.order.length && !this.state.has(this.order[this.head] as ConsumeMessage)) this.head++;
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** The channel is gone: nothing can be settled on it any more (the broker requeued the rest). */
  drop(): void {
    this.dead = true;
    this.order = [];
    this.head = 0;
    this.state.clear();
    this.asked = [];
  }
}
