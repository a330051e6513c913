// Reads a namespace's dead-letter queue from outside, leaving every message where it is.
import amqp from "amqplib";
import type { Names } from "../../shared/store/names.ts";
import { AMQP_URL } from "./stack.ts";

/** The job id of every dead letter, in queue order (unacked reads: they all go back). */
export async function deadLetterIds(n: Names): Promise<string[]> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const ids: string[] = [];
    for (;;) {
      const msg = await ch.get(n.deadLetterQueue, { noAck: false });
      if (!msg) break;
      ids.push((JSON.parse(msg.content.toString()) as { jobId: string }).jobId);
    }
    await ch.close(); // unacked: they go back to the queue
    return ids;
  } finally {
    await conn.close();
  }
}
