// Accept latency and throughput: how long until a job is durably handed off. Raw: a persistent
// message to a classic durable queue on a confirm channel, done when the broker confirms.
// Herald: POST /jobs over real HTTP until the 202 (limits, Redis record, publish with confirm).
// No consumers on either side, so both queues only fill; both are removed afterwards.
import { randomUUID } from "node:crypto";
import { Cleanup } from "./cleanup.ts";
import { startBenchStack, submitDemo } from "./herald.ts";
import { JsonClient } from "./http-client.ts";
import { alternate, type Comparison, type Probe, saturate } from "./measure.ts";
import { type BenchOptions, latencyPlan, throughputPlan } from "./options.ts";
import {
  connectAmqp,
  declareQueue,
  deleteQueues,
  demoMessage,
  onChannelError,
  publishConfirmed,
  rawNames,
} from "./raw.ts";

export async function acceptBench(opts: BenchOptions): Promise<Comparison[]> {
  const cleanup = new Cleanup();
  try {
    const stack = await startBenchStack(0);
    cleanup.add("stack", () => stack.close());
    const http = new JsonClient(stack.baseUrl);
    cleanup.add("http client", () => http.close());

    const queue = rawNames(stack.names.namespace).acceptQueue;
    const amqp = await connectAmqp();
    cleanup.add("raw queue", () => deleteQueues([queue]));
    cleanup.add("raw connection", () => amqp.close());
    const ch = await amqp.createConfirmChannel();
    onChannelError(ch);
    await declareQueue(ch, queue);

    const raw: Probe = {
      kind: "raw",
      name: "publish persistent → broker confirm",
      once: async () => {
        const start = performance.now();
        const id = randomUUID();
        await publishConfirmed(ch, queue, demoMessage(id), id);
        return performance.now() - start;
      },
    };
    const herald: Probe = {
      kind: "herald",
      name: "POST /jobs → 202 (HTTP keep-alive)",
      once: async () => {
        const start = performance.now();
        await submitDemo(http);
        return performance.now() - start;
      },
    };

    const [seqRaw, seqHerald] = await alternate([raw, herald], latencyPlan(opts));
    const plan = throughputPlan(opts);
    const [conRaw, conHerald] = await saturate([raw, herald], plan);
    if (!seqRaw || !seqHerald || !conRaw || !conHerald) throw new Error("a probe produced no measurement");
    return [
      { id: "accept", title: "Accept: the job is durably queued (one at a time)", raw: seqRaw, herald: [seqHerald] },
      {
        id: "accept-concurrent",
        title: `Accept: ${plan.concurrency} in flight`,
        raw: conRaw,
        herald: [conHerald],
      },
    ];
  } finally {
    await cleanup.run();
  }
}
