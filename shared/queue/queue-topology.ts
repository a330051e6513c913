// The RabbitMQ topology: declared by every process at connect, so any start order works.
//
//   POST /jobs ──> [jobs exchange] ──> (jobs queue) ──> workers
//                        ^                  │ rejected / retries exhausted / delivery limit
//                        │                  v
//   retry tiers: (jobs.retry.<tier>ms) [dead-letter exchange] ──> (jobs.dead)  ← inspect, replay
//   a message waits out its TTL there, then dead-letters back to the jobs exchange.
//
// Every queue has the one queue type (QUEUE_TYPE). Quorum queues (a cluster) are replicated and
// dead-letter at least once (the message leaves its queue only once the target queue confirmed
// it), so neither a retry nor a poison message is lost when a node dies on the way; RabbitMQ 3.10
// has that strategy, and the per-message TTL the retry tiers use, on quorum queues too.
import type { Channel } from "amqplib";
import type { QueueType } from "../runtime/amqp-nodes.ts";
import type { Names } from "../store/names.ts";

/** Upper bounds of the retry tiers. A retry goes to the smallest tier that holds its delay and
 * carries its exact delay as per-message TTL; head-of-line waiting is bounded by the tier. */
export const retryTiersMs = [1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000] as const;

export function retryTier(delayMs: number): number {
  return retryTiersMs.find((t) => delayMs <= t) ?? 3_600_000;
}

export interface TopologyOptions {
  queueType: QueueType;
  /** Quorum queues: deliveries of a message (requeues and returns from lost consumers count)
   * before it is dead-lettered. Classic queues have no such limit in RabbitMQ 3.10. */
  deliveryLimit: number;
}

/** A queue exists with other arguments (most often another queue type): RabbitMQ refused the
 * declaration with 406, and cannot change a queue's type in place. */
export class TopologyMismatchError extends Error {
  override readonly name = "TopologyMismatchError";
}

/** The arguments of every queue, by role (the same ones on every declaration, or RabbitMQ says 406). */
export function queueArguments(n: Names, opts: TopologyOptions): Record<string, Record<string, unknown>> {
  const quorum = opts.queueType === "quorum";
  // At-least-once dead-lettering needs `reject-publish` overflow (RabbitMQ falls back to
  // at-most-once without it); with no length limit set, nothing is ever rejected for it.
  const deadLettering = quorum ? { "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" } : {};
  const args: Record<string, Record<string, unknown>> = {
    [n.deadLetterQueue]: { "x-queue-type": opts.queueType },
    [n.jobsQueue]: {
      "x-queue-type": opts.queueType,
      "x-dead-letter-exchange": n.deadLetterExchange,
      ...(quorum ? { "x-delivery-limit": opts.deliveryLimit, ...deadLettering } : {}),
    },
  };
  for (const tier of retryTiersMs) {
    args[n.retryQueue(tier)] = {
      "x-queue-type": opts.queueType,
      "x-message-ttl": tier,
      "x-dead-letter-exchange": n.jobsExchange,
      "x-dead-letter-routing-key": n.jobsRoutingKey,
      ...deadLettering,
    };
  }
  return args;
}

/** Declares the exchanges and queues. Their bindings are bindTopology's. */
export async function declareTopology(ch: Channel, n: Names, opts: TopologyOptions): Promise<void> {
  const args = queueArguments(n, opts);
  const queue = (name: string) => assertQueue(ch, name, args[name] ?? {}, opts.queueType);
  await ch.assertExchange(n.deadLetterExchange, "fanout", { durable: true });
  await queue(n.deadLetterQueue);
  await ch.assertExchange(n.jobsExchange, "direct", { durable: true });
  await queue(n.jobsQueue);
  for (const tier of retryTiersMs) await queue(n.retryQueue(tier));
}

/** Binds the queues to their exchanges (after declareTopology). Apart because in RabbitMQ 3.x a
 * bind, even of a binding that exists, is a Mnesia transaction on every node of the cluster: with
 * one node hung (its sockets open, nothing answered), RabbitMQ holds it until it declares that node
 * down (Erlang's net_ticktime: 45-75 s by default), while publishes and consumes go on. */
export async function bindTopology(ch: Channel, n: Names): Promise<void> {
  await ch.bindQueue(n.deadLetterQueue, n.deadLetterExchange, "");
  await ch.bindQueue(n.jobsQueue, n.jobsExchange, n.jobsRoutingKey);
}

async function assertQueue(
  ch: Channel,
  name: string,
  args: Record<string, unknown>,
  queueType: QueueType,
): Promise<void> {
  try {
    await ch.assertQueue(name, { durable: true, arguments: args });
  } catch (err) {
    const e = err as { code?: number; message?: string };
    if (e.code !== 406) throw err;
    const other = queueType === "quorum" ? "classic" : "quorum";
    throw new TopologyMismatchError(
      `RabbitMQ queue "${name}" exists with other arguments than QUEUE_TYPE=${queueType} declares ` +
        `(${e.message ?? "406 PRECONDITION_FAILED"}). A queue cannot change type in place: set ` +
        `QUEUE_TYPE=${other} to keep using the existing queues, or migrate them as README.md ` +
        `"Deployment and scaling" describes (drain, delete, restart with the new QUEUE_TYPE).`,
    );
  }
}

/** Every queue and exchange of a namespace (for cleanup tools and tests). */
export function allQueues(n: Names): string[] {
  return [n.jobsQueue, n.deadLetterQueue, ...retryTiersMs.map((t) => n.retryQueue(t))];
}
export function allExchanges(n: Names): string[] {
  return [n.jobsExchange, n.deadLetterExchange];
}
