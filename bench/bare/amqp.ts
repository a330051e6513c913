// Bare amqplib, each role in its own process: a publisher on a confirm channel keeping `concurrency`
// persistent messages in flight (each awaits its confirm), and a consumer that acks each delivery.
// The queue is a durable classic queue, as Herald's jobs queue is.
import amqp, { type ConfirmChannel } from "amqplib";
import { serve } from "../procs/ipc.ts";
import { Samples } from "../stats.ts";

const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const conn = await amqp.connect(url);
conn.on("error", (err) => console.error(`bare amqp: ${String(err)}`));
let consumed = 0;

function publishOne(ch: ConfirmChannel, queue: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.sendToQueue(queue, body, { persistent: true, contentType: "application/json" }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

serve({
  declare: async ({ queue }: { queue: string }) => {
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
    await ch.close();
  },
  publish: async ({
    queue,
    concurrency,
    seconds,
    body,
  }: {
    queue: string;
    concurrency: number;
    seconds: number;
    body: string;
  }) => {
    const ch = await conn.createConfirmChannel();
    const payload = Buffer.from(body);
    const samples = new Samples();
    const from = performance.now();
    const end = from + seconds * 1000;
    let errors = 0;
    const loop = async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await publishOne(ch, queue, payload);
          samples.add(performance.now() - t);
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const to = performance.now();
    await ch.close();
    return { count: samples.length, errors, rate: (samples.length * 1000) / (to - from), latency: samples.latency() };
  },
  consume: async ({ queue, prefetch }: { queue: string; prefetch: number }) => {
    const ch = await conn.createChannel();
    await ch.prefetch(prefetch);
    await ch.consume(queue, (msg) => {
      if (msg === null) return;
      ch.ack(msg);
      consumed++;
    });
  },
  consumed: () => consumed,
});
