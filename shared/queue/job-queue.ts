// The queue seam. RabbitMQ implements it (rabbit-job-queue.ts).
import type { JobMessage } from "../jobs/schemas.ts";

/** One received message. Settle it exactly once; settling after the connection dropped is a no-op
 * (the broker redelivers the message to another consumer). */
export interface Delivery {
  readonly body: Buffer;
  /** True when the broker has delivered this message before (a consumer died or requeued it). */
  readonly redelivered: boolean;
  /** The message's headers: the request id (`x-request-id`) and trace context (`traceparent`) of
   * the request that published it, when it had them. */
  readonly headers?: Readonly<Record<string, unknown>>;
  ack(): void;
  /** Rejects the message to the dead-letter queue, for an operator to inspect. */
  deadLetter(): void;
  /** Puts the message back on the queue for another try. */
  requeue(): void;
}

export interface PublishOptions {
  /** Deliver only after this delay (a retry tier). */
  delayMs?: number;
  /** The id of the request the job came from (its `x-request-id` header), handed on explicitly. */
  requestId?: string;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface JobQueue {
  /** Resolves only once the broker has confirmed the message is stored; else rejects with QueueUnavailableError.
   * With `delayMs`, the message reaches consumers only after that delay (a retry). `requestId` and
   * the active trace context (shared/observability/tracing.ts) travel as message headers. */
  publish(message: JobMessage, opts?: PublishOptions): Promise<void>;
  /** Messages waiting in the jobs queue (for backpressure). */
  depth(): Promise<number>;
  /** Starts consuming (and keeps consuming across reconnects) with at most `prefetch` unacked messages. */
  consume(handler: DeliveryHandler, prefetch: number): Promise<void>;
  /** Stops taking new messages; unsettled ones stay with this consumer until settled or closed. */
  stopConsuming(): Promise<void>;
  isConnected(): boolean;
  /** Why the broker refuses this process's publishes now (RabbitMQ blocks publishing connections
   * while a node is low on memory or disk), or null. A publish then fails at once. */
  refusing(): string | null;
  close(): Promise<void>;
}

export class QueueUnavailableError extends Error {
  override readonly name = "QueueUnavailableError";
}
