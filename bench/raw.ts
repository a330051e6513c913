// The raw components, used the way a hand-rolled system would use them at minimum: amqplib
// confirm channels and classic durable queues, node-redis pub/sub. Names live under the
// Herald stack's namespace, so one namespace holds everything a run creates.
import { randomUUID } from "node:crypto";
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import type { JobMessage } from "../shared/jobs/schemas.ts";
import { connectRedis } from "../shared/store/redis-connect.ts";
import type { RedisClient } from "../shared/store/redis-job-store.ts";
import { AMQP_URL, log, REDIS_URL } from "../test/helpers/stack.ts";

/** Every queue and channel the raw probes use. */
export function rawNames(namespace: string) {
  return Object.freeze({
    acceptQueue: `${namespace}.bench.raw-accept`,
    roundTripQueue: `${namespace}.bench.raw-round-trip`,
    notifyChannel: `${namespace}:bench:raw-notify`,
    replyChannel: `${namespace}:bench:raw-reply`,
  });
}

export function connectBenchRedis(): Promise<RedisClient> {
  return connectRedis(REDIS_URL, log, 5_000, "bench");
}

export async function connectAmqp(): Promise<ChannelModel> {
  const model = await amqp.connect(AMQP_URL);
  // Without a listener an 'error' kills the process; the failed operations are counted instead.
  model.on("error", (err: Error) => console.error(`bench: RabbitMQ connection error: ${err.message}`));
  return model;
}

export function onChannelError(ch: Channel): void {
  ch.on("error", (err: Error) => console.error(`bench: RabbitMQ channel error: ${err.message}`));
}

/** A classic durable queue, as Herald declares its jobs queue. */
export async function declareQueue(ch: Channel, queue: string): Promise<void> {
  await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
}

/** A persistent message through the default exchange; resolves when the broker confirms it. */
export function publishConfirmed(ch: ConfirmChannel, queue: string, body: Buffer, messageId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.sendToQueue(queue, body, { persistent: true, contentType: "application/json", messageId }, (err: unknown) =>
      err ? reject(new Error(`broker refused the message: ${String(err)}`)) : resolve(),
    );
  });
}

/** The same bytes Herald puts on its queue for a demo job. */
export function demoMessage(jobId: string = randomUUID()): Buffer {
  const message: JobMessage = { v: 1, jobId, type: "demo", payload: { steps: 1, stepMs: 0 } };
  return Buffer.from(JSON.stringify(message));
}

export async function deleteQueues(queues: readonly string[]): Promise<void> {
  const model = await connectAmqp();
  try {
    const ch = await model.createChannel();
    onChannelError(ch);
    for (const q of queues) await ch.deleteQueue(q);
  } finally {
    await model.close();
  }
}
