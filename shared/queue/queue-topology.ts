// The RabbitMQ topology: declared by every process at connect, so any start order works.
//
//   POST /jobs ──> [jobs exchange] ──> (jobs queue) ──> workers
//                        ^                  │ rejected / retries exhausted
//                        │                  v
//   retry tiers: (jobs.retry.<tier>ms) [dead-letter exchange] ──> (jobs.dead)  ← inspect, replay
//   a message waits out its TTL there, then dead-letters back to the jobs exchange.
import type { Channel } from "amqplib";
import type { Names } from "../store/names.ts";

/** Upper bounds of the retry tiers. A retry goes to the smallest tier that holds its delay and
 * carries its exact delay as per-message TTL; head-of-line waiting is bounded by the tier. */
export const retryTiersMs = [1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000] as const;

export function retryTier(delayMs: number): number {
  return retryTiersMs.find((t) => delayMs <= t) ?? 3_600_000;
}

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
  for (const tier of retryTiersMs) {
    await ch.assertQueue(n.retryQueue(tier), {
      durable: true,
      arguments: {
        "x-queue-type": "classic",
        "x-message-ttl": tier,
        "x-dead-letter-exchange": n.jobsExchange,
        "x-dead-letter-routing-key": n.jobsRoutingKey,
      },
    });
  }
}

/** Every queue and exchange of a namespace (for cleanup tools and tests). */
export function allQueues(n: Names): string[] {
  return [n.jobsQueue, n.deadLetterQueue, ...retryTiersMs.map((t) => n.retryQueue(t))];
}
export function allExchanges(n: Names): string[] {
  return [n.jobsExchange, n.deadLetterExchange];
}
