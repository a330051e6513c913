// End to end: from submitting a job to the caller holding its outcome. Raw, what a hand-rolled
// system does at minimum: publish with confirm, a consumer (prefetch as Herald's worker) receives,
// acks and PUBLISHes a reply on Redis to the caller, who is done once it has both the confirm and
// the reply. Herald: POST /jobs → 202, `subscribe` over an open socket, done at the terminal state
// (in the subscribe acknowledgement's snapshot or a later `job` event) of a demo job with one
// step of 0 ms, run by one real in-process worker. (The demo handler's `sleep(0)` is a Node timer,
// which fires after at least 1 ms: about 1 ms of Herald's figure is the handler, not Herald.)
import { randomUUID } from "node:crypto";
import type { ConsumeMessage } from "amqplib";
import { isTerminal } from "../shared/jobs/schemas.ts";
import { connectSocket } from "../test/helpers/realtime.ts";
import { Arrivals } from "./arrivals.ts";
import { Cleanup } from "./cleanup.ts";
import { startBenchStack, submitDemo, subscribe } from "./herald.ts";
import { JsonClient } from "./http-client.ts";
import { alternate, type Comparison, type Probe, saturate } from "./measure.ts";
import { type BenchOptions, latencyPlan, throughputPlan } from "./options.ts";
import {
  connectAmqp,
  connectBenchRedis,
  declareQueue,
  deleteQueues,
  demoMessage,
  onChannelError,
  publishConfirmed,
  rawNames,
} from "./raw.ts";

/** Herald's worker default (WORKER_PREFETCH); the raw consumer gets the same. */
const prefetch = 4;

export async function endToEndBench(opts: BenchOptions): Promise<Comparison[]> {
  const cleanup = new Cleanup();
  try {
    const stack = await startBenchStack(1);
    cleanup.add("stack", () => stack.close());
    const arrivals = new Arrivals();
    cleanup.add("arrivals", () => arrivals.cancelAll("bench ended"));
    const raw = await rawRoundTrip(stack.names.namespace, arrivals, opts, cleanup);
    const herald = await heraldRoundTrip(stack.baseUrl, arrivals, opts, cleanup);

    const [seqRaw, seqHerald] = await alternate([raw, herald], latencyPlan(opts));
    const plan = throughputPlan(opts);
    const [conRaw, conHerald] = await saturate([raw, herald], plan);
    if (!seqRaw || !seqHerald || !conRaw || !conHerald) throw new Error("a probe produced no measurement");
    return [
      {
        id: "end-to-end",
        title: "End to end: submit → outcome at the caller (one at a time)",
        raw: seqRaw,
        herald: [seqHerald],
      },
      {
        id: "end-to-end-concurrent",
        title: `End to end: ${plan.concurrency} in flight, one consumer (prefetch ${prefetch})`,
        raw: conRaw,
        herald: [conHerald],
      },
    ];
  } finally {
    await cleanup.run();
  }
}

async function rawRoundTrip(
  namespace: string,
  arrivals: Arrivals,
  opts: BenchOptions,
  cleanup: Cleanup,
): Promise<Probe> {
  const { roundTripQueue: queue, replyChannel } = rawNames(namespace);
  const [callerSub, consumerRedis] = await Promise.all([connectBenchRedis(), connectBenchRedis()]);
  cleanup.add("raw redis", () => Promise.all([callerSub.close(), consumerRedis.close()]));
  await callerSub.subscribe(replyChannel, (id) => arrivals.arrive(`raw:${id}`));

  // Publisher and consumer on separate connections, as they would be separate processes.
  const [pubConn, consumerConn] = await Promise.all([connectAmqp(), connectAmqp()]);
  cleanup.add("raw queue", () => deleteQueues([queue]));
  cleanup.add("raw connections", () => Promise.all([pubConn.close(), consumerConn.close()]));
  const pub = await pubConn.createConfirmChannel();
  onChannelError(pub);
  await declareQueue(pub, queue);
  const consumer = await consumerConn.createChannel();
  onChannelError(consumer);
  await consumer.prefetch(prefetch);
  await consumer.consume(queue, (msg: ConsumeMessage | null) => {
    if (msg === null) return;
    consumer.ack(msg);
    consumerRedis.publish(replyChannel, String(msg.properties.messageId)).catch((err: unknown) => {
      console.error(`bench: raw reply failed: ${String(err)}`);
    });
  });

  return {
    kind: "raw",
    name: "publish+confirm → consume, ack → Redis reply",
    once: () => {
      const id = randomUUID();
      return arrivals.time(
        `raw:${id}`,
        opts.opTimeoutMs,
        () => publishConfirmed(pub, queue, demoMessage(id), id),
        true,
      );
    },
  };
}

async function heraldRoundTrip(
  baseUrl: string,
  arrivals: Arrivals,
  opts: BenchOptions,
  cleanup: Cleanup,
): Promise<Probe> {
  const http = new JsonClient(baseUrl);
  cleanup.add("http client", () => http.close());
  // One socket, opened beforehand, as a page or client keeps it.
  const socket = await connectSocket(baseUrl);
  cleanup.add("socket", () => socket.close());
  socket.on("job", (view) => {
    if (isTerminal(view.status)) arrivals.arrive(`herald:${view.id}`);
  });

  return {
    kind: "herald",
    name: "POST → 202 → subscribe → terminal state",
    once: async () => {
      const start = performance.now();
      const job = await submitDemo(http);
      const key = `herald:${job.id}`;
      const arrived = arrivals.expect(key, opts.opTimeoutMs);
      arrived.catch(() => {}); // awaited below
      try {
        const snapshot = await subscribe(socket, job, opts.opTimeoutMs);
        if (isTerminal(snapshot.status)) arrivals.arrive(key);
      } catch (err) {
        arrivals.forget(key);
        throw err;
      }
      const at = await arrived;
      socket.emit("unsubscribe", { jobId: job.id }); // no ack awaited, as a client that moves on
      return at - start;
    },
  };
}
