// The RabbitMQ topology: declared by every process at connect, so any start order works.
import type { Channel } from "amqplib";
import type { Names } from "./names.ts";

export async function assertTopology(ch: Channel, n: Names): Promise<void> {
  await ch.assertExchange(n.deadLetterExchange, "fanout", { durable: true });
  await ch.assertQueue(n.deadLetterQueue, { durable: true, arguments: { "x-queue-type": "classic" } });
  await ch.bindQueue(n.deadLetterQueue, n.deadLetterExchange, "");
  await ch.assertExchange(n.jobsExchange, "direct", { durable: true });
  // Classic, not quorum: on this single-node RabbitMQ 3.10 a quorum queue did not recover after kill -9.
  await ch.assertQueue(n.jobsQueue, {
    durable: true,
    arguments: { "x-queue-type": "classic", "x-dead-letter-exchange": n.deadLetterExchange },
  });
  await ch.bindQueue(n.jobsQueue, n.jobsExchange, n.jobsRoutingKey);
}
