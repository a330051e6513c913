// JobQueue on RabbitMQ (amqplib). Owns one connection and reconnects it with backoff, recreating
// the topology, the confirm channel and the consumer. amqplib's own recovery is not used: it
// restores neither channels nor consumers, and can throw uncaught during its setup callback.
// With several nodes (a cluster) it connects to the first that answers, and after losing a node
// tries the next ones first, so it moves off a dead node instead of waiting for it.
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import type { JobMessage } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import { messageHeaders } from "../observability/tracing.ts";
import type { QueueType } from "../runtime/amqp-nodes.ts";
import { type Config, redactUrl } from "../runtime/config.ts";
import { type Names, names } from "../store/names.ts";
import { backoffDelay, retryUntil, sleep } from "./backoff.ts";
import { type Delivery, type DeliveryHandler, type JobQueue, QueueUnavailableError } from "./job-queue.ts";
import { assertTopology, retryTier, TopologyMismatchError } from "./queue-topology.ts";

export interface RabbitOptions {
  /** One node's URL, or the nodes of a cluster in the order to try them. */
  url: string | readonly string[];
  names: Names;
  log: Logger;
  /** How long the first connection may take before `connect` gives up. */
  connectTimeoutMs: number;
  /** How long a publish may wait for the broker's confirm. */
  publishTimeoutMs: number;
  heartbeatSeconds?: number;
  /** Type of the queues this process declares (default classic; see queue-topology.ts). */
  queueType?: QueueType;
  /** Quorum queues' x-delivery-limit (default 50). */
  deliveryLimit?: number;
  /** Called each time a lost connection is restored (the broker reconnects metric). */
  onReconnect?: () => void;
}

interface Consumer {
  handler: DeliveryHandler;
  prefetch: number;
  channel: Channel | null;
  tag: string | null;
}

export class RabbitJobQueue implements JobQueue {
  private model: ChannelModel | null = null;
  private publishChannel: Promise<ConfirmChannel> | null = null;
  private consumer: Consumer | null = null;
  private closing = false;
  private reconnecting = false;
  /** A restartConsumerSoon is opening a consumer now (so that two never do at once). */
  private consumerStarting = false;
  /** Message ids the broker returned as unroutable; their confirm must then fail. */
  private readonly returned = new Set<string>();
  /** Open consumer channels, including one whose consumer was cancelled but whose acks may follow. */
  private readonly consumerChannels = new Set<Channel>();
  private readonly urls: readonly string[];
  /** The node of the current connection (an index into urls), and the first one to try next. */
  private node = 0;
  private nextNode = 0;

  private constructor(private readonly opts: RabbitOptions) {
    this.urls = typeof opts.url === "string" ? [opts.url] : [...opts.url];
    if (this.urls.length === 0) throw new TypeError("RabbitJobQueue: no RabbitMQ URL");
  }

  /** Connects (retrying with backoff up to `connectTimeoutMs`) and declares the topology. */
  static async connect(opts: RabbitOptions): Promise<RabbitJobQueue> {
    const q = new RabbitJobQueue(opts);
    await retryUntil(() => q.open(), {
      timeoutMs: opts.connectTimeoutMs,
      onFailure: (err, tryNo) =>
        opts.log.error(
          err instanceof TopologyMismatchError ? "RabbitMQ refused Herald's queues" : "cannot reach RabbitMQ",
          {
            urls: q.urls.map(redactUrl),
            try: tryNo,
            error: String(err),
            hint:
              err instanceof TopologyMismatchError
                ? "see README.md, Deployment and scaling: migrating classic queues to quorum"
                : "start it with `rabbitmq-server -detached` (or `docker compose up rabbitmq`), or set AMQP_URL",
          },
        ),
      // Waiting does not change a queue's arguments: say so and stop.
      isFatal: (err) => err instanceof TopologyMismatchError,
    });
    return q;
  }

  /** `connect` with the settings of a process's config. */
  static fromConfig(
    config: Pick<
      Config,
      "amqpUrls" | "queueType" | "queueDeliveryLimit" | "namespace" | "connectTimeoutMs" | "publishTimeoutMs"
    >,
    log: Logger,
    onReconnect?: () => void,
  ): Promise<RabbitJobQueue> {
    return RabbitJobQueue.connect({
      url: config.amqpUrls,
      queueType: config.queueType,
      deliveryLimit: config.queueDeliveryLimit,
      names: names(config.namespace),
      log,
      connectTimeoutMs: config.connectTimeoutMs,
      publishTimeoutMs: config.publishTimeoutMs,
      ...(onReconnect ? { onReconnect } : {}),
    });
  }

  isConnected(): boolean {
    return this.model !== null;
  }

  /** The node this process is connected to now (password hidden), or null while it is not. */
  connectedUrl(): string | null {
    return this.model ? redactUrl(this.urls[this.node] ?? "") : null;
  }

  async publish(message: JobMessage, opts: { delayMs?: number } = {}): Promise<void> {
    const { names, publishTimeoutMs } = this.opts;
    // The whole publish, opening the channel included, fits in publishTimeoutMs: a broker that
    // keeps the connection but answers nothing must not hold a submit for ever.
    const deadline = Date.now() + publishTimeoutMs;
    const ch = await withTimeout(this.confirmChannel(), publishTimeoutMs, "no publish channel from RabbitMQ");
    const body = Buffer.from(JSON.stringify(message));
    const messageId = message.jobId;
    // A delayed message waits in a retry tier queue (default exchange, routed by queue name).
    const delayed = opts.delayMs !== undefined;
    const exchange = delayed ? "" : names.jobsExchange;
    const routingKey = delayed ? names.retryQueue(retryTier(opts.delayMs ?? 0)) : names.jobsRoutingKey;
    const expiration = delayed ? { expiration: String(Math.max(0, Math.round(opts.delayMs ?? 0))) } : {};
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new QueueUnavailableError(`no confirm from RabbitMQ within ${publishTimeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      );
      try {
        ch.publish(
          exchange,
          routingKey,
          body,
          {
            persistent: true,
            mandatory: true,
            contentType: "application/json",
            messageId,
            headers: messageHeaders(),
            ...expiration,
          },
          (err: unknown) => {
            clearTimeout(timer);
            const unroutable = this.returned.delete(messageId);
            if (err) reject(new QueueUnavailableError(`RabbitMQ refused the message: ${String(err)}`));
            else if (unroutable) reject(new QueueUnavailableError("RabbitMQ could not route the message"));
            else resolve();
          },
        );
      } catch (err) {
        clearTimeout(timer);
        reject(new QueueUnavailableError(`publish failed: ${String(err)}`));
      }
    });
  }

  async consume(handler: DeliveryHandler, prefetch: number): Promise<void> {
    if (this.consumer) throw new Error("already consuming");
    this.consumer = { handler, prefetch, channel: null, tag: null };
    if (this.model) await this.startConsumer(this.model);
  }

  async stopConsuming(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    if (c?.channel && c.tag) {
      try {
        await c.channel.cancel(c.tag);
      } catch (err) {
        this.opts.log.warn("cancelling the consumer failed", { error: String(err) });
      }
    }
  }

  /** Messages waiting in the jobs queue (not counting unacked ones). */
  async depth(): Promise<number> {
    const probe = this.confirmChannel().then((ch) => ch.checkQueue(this.opts.names.jobsQueue));
    return (await withTimeout(probe, this.opts.publishTimeoutMs, "no queue depth from RabbitMQ")).messageCount;
  }

  /** Runs `use` on a plain channel of this connection, opened for it and closed after (messages it
   * got and did not settle go back to their queue). For the operator's dead-letter tools
   * (shared/queue/dead-letters.ts), which read queues message by message. */
  async withChannel<T>(use: (ch: Channel) => Promise<T>): Promise<T> {
    const model = this.model;
    if (!model) throw new QueueUnavailableError("not connected to RabbitMQ");
    const ch = await model.createChannel();
    ch.on("error", (err: Error) => this.opts.log.warn("RabbitMQ operator channel error", { error: err.message }));
    try {
      return await use(ch);
    } finally {
      await withTimeout(
        settled(ch, () => ch.close()),
        2_000,
        "closing a channel",
      ).catch(() => {}); // a channel that died already is closed
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const model = this.model;
    this.model = null;
    // Channels first: a channel's CloseOk comes after the acks sent on it, so none of them is
    // still in a buffer when the connection goes (RabbitMQ would requeue those messages).
    const channels: Channel[] = [...this.consumerChannels];
    const publish = this.publishChannel && (await withTimeout(this.publishChannel, 2_000, "").catch(() => null));
    if (publish) channels.push(publish);
    for (const ch of channels) {
      try {
        await withTimeout(
          settled(ch, () => ch.close()),
          2_000,
          "closing a channel",
        );
      } catch (err) {
        this.opts.log.warn("closing a RabbitMQ channel failed", { error: String(err) });
      }
    }
    if (model) {
      try {
        await settled(model, () => model.close());
      } catch (err) {
        this.opts.log.warn("closing the RabbitMQ connection failed", { error: String(err) });
      }
    }
  }

  // --- connection lifecycle ---

  /** Connects to the first node that answers, starting at nextNode; throws if none does. */
  private async open(): Promise<void> {
    const failures: string[] = [];
    for (let i = 0; i < this.urls.length; i++) {
      const node = (this.nextNode + i) % this.urls.length;
      try {
        await this.openNode(node);
        return;
      } catch (err) {
        if (err instanceof TopologyMismatchError || this.closing) throw err;
        failures.push(`${redactUrl(this.urls[node] ?? "")}: ${String(err)}`);
      }
    }
    throw new QueueUnavailableError(
      failures.length === 1 ? (failures[0] ?? "") : `no RabbitMQ node answered (${failures.join("; ")})`,
    );
  }

  private async openNode(node: number): Promise<void> {
    const { log, names } = this.opts;
    const url = this.urls[node] ?? "";
    // A node that takes the TCP connection but never answers must not stall the tour of the others.
    const model = await amqp.connect(withHeartbeat(url, this.opts.heartbeatSeconds ?? 15), { timeout: 5_000 });
    let lost = false;
    // Listeners first: an 'error' with no listener kills the process.
    model.on("error", (err: Error) => log.warn("RabbitMQ connection error", { error: err.message }));
    model.on("close", () => {
      lost = true;
      this.onConnectionLost(model);
    });
    try {
      const setup = await model.createChannel();
      setup.on("error", (err: Error) => log.warn("RabbitMQ setup channel error", { error: err.message }));
      await assertTopology(setup, names, {
        queueType: this.opts.queueType ?? "classic",
        deliveryLimit: this.opts.deliveryLimit ?? 50,
      });
      await settled(setup, () => setup.close());
      if (this.consumer) await this.startConsumer(model);
      if (this.closing) throw new Error("closing");
      // Until it is this.model, a close is not handled by onConnectionLost (and amqplib may have
      // settled nothing above): the caller's retry loop takes over.
      if (lost) throw new Error("the RabbitMQ connection closed during setup");
      this.model = model;
      this.node = node;
      this.nextNode = node;
      this.publishChannel = null;
      // The consumer channel died in between (the connection lives): onConnectionLost did not see it.
      if (this.consumer && !this.consumer.channel) this.restartConsumerSoon(model);
      log.info("connected to RabbitMQ", { url: redactUrl(url), queueType: this.opts.queueType ?? "classic" });
    } catch (err) {
      if (this.model === model) this.model = null;
      if (!lost) model.close().catch(() => {}); // its 'error' is logged above
      throw err;
    }
  }

  private onConnectionLost(model: ChannelModel): void {
    if (model !== this.model) return;
    this.model = null;
    this.publishChannel = null;
    if (this.consumer) this.consumer.channel = null;
    if (this.closing) return;
    // The lost node is tried last: it is likely down, and another node of the cluster likely up.
    this.nextNode = (this.node + 1) % this.urls.length;
    this.opts.log.warn("lost the RabbitMQ connection; reconnecting", { url: redactUrl(this.urls[this.node] ?? "") });
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (let attempt = 1; !this.closing && !this.model; attempt++) {
        await sleep(backoffDelay(attempt, 100, 5_000));
        try {
          await this.open();
          this.opts.onReconnect?.();
        } catch (err) {
          this.opts.log.warn("RabbitMQ reconnect failed", { attempt, error: String(err) });
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private confirmChannel(): Promise<ConfirmChannel> {
    const model = this.model;
    if (!model) return Promise.reject(new QueueUnavailableError("not connected to RabbitMQ"));
    if (!this.publishChannel) {
      const created = model.createConfirmChannel().then((ch) => {
        ch.on("error", (err: Error) => this.opts.log.warn("RabbitMQ publish channel error", { error: err.message }));
        ch.on("close", () => {
          if (this.publishChannel === created) this.publishChannel = null;
        });
        ch.on("return", (msg: { properties: { messageId?: string } }) => {
          if (msg.properties.messageId) this.returned.add(msg.properties.messageId);
        });
        return ch;
      });
      created.catch(() => {
        if (this.publishChannel === created) this.publishChannel = null;
      });
      this.publishChannel = created;
    }
    return this.publishChannel.catch((err: unknown) => {
      throw new QueueUnavailableError(`no RabbitMQ channel: ${String(err)}`);
    });
  }

  private async startConsumer(model: ChannelModel): Promise<void> {
    const c = this.consumer;
    if (!c) return;
    const { log, names } = this.opts;
    const ch = await model.createChannel();
    let open = true;
    ch.on("error", (err: Error) => log.warn("RabbitMQ consumer channel error", { error: err.message }));
    this.consumerChannels.add(ch);
    ch.on("close", () => {
      open = false;
      this.consumerChannels.delete(ch);
      if (c.channel !== ch) return;
      c.channel = null;
      c.tag = null;
      // The channel died but the connection lives (e.g. a protocol error): open a new one.
      if (this.model === model && this.consumer === c && !this.closing) this.restartConsumerSoon(model);
    });
    await ch.prefetch(c.prefetch);
    c.channel = ch;
    const settle = (fn: () => void) => {
      // Settling on a dead channel is pointless (the broker requeued the message) and would throw.
      if (open) fn();
    };
    // After a cancel by the broker this channel takes no new deliveries but still settles the ones
    // it has; it is closed once they are settled (closing earlier would requeue them).
    let unsettled = 0;
    let cancelled = false;
    const closeIfDone = () => {
      if (cancelled && unsettled === 0 && open) ch.close().catch(() => undefined); // a dead channel is closed
    };
    const reply = await ch.consume(
      names.jobsQueue,
      (msg: ConsumeMessage | null) => {
        if (msg === null) {
          // The broker cancelled us (queue deleted, or its replica here gone): consume again, on
          // a new channel; this one stays until its deliveries are settled.
          log.warn("RabbitMQ cancelled the consumer; consuming again");
          cancelled = true;
          if (c.channel === ch) {
            c.channel = null;
            c.tag = null;
          }
          closeIfDone();
          if (this.consumer === c) this.restartConsumerSoon(model);
          return;
        }
        unsettled++;
        let settled = false;
        const once = (fn: () => void) => () => {
          if (settled) return;
          settled = true;
          unsettled--;
          settle(fn);
          closeIfDone();
        };
        const delivery: Delivery = {
          body: msg.content,
          redelivered: msg.fields.redelivered,
          headers: msg.properties.headers ?? {},
          ack: once(() => ch.ack(msg)),
          deadLetter: once(() => ch.nack(msg, false, false)),
          requeue: once(() => ch.nack(msg, false, true)),
        };
        c.handler(delivery).catch((err: unknown) => {
          log.error("delivery handler failed; requeueing", { error: err instanceof Error ? err : String(err) });
          delivery.requeue();
        });
      },
      { noAck: false },
    );
    c.tag = reply.consumerTag;
  }

  /** Starts the consumer again on this connection, retrying with backoff until it runs (e.g. a
   * quorum queue answers consume only once it has a leader again). */
  private restartConsumerSoon(model: ChannelModel, delayMs = 500): void {
    setTimeout(() => {
      const c = this.consumer;
      if (this.model !== model || !c || c.channel || this.consumerStarting || this.closing) return;
      this.consumerStarting = true;
      this.startConsumer(model)
        .catch((err: unknown) => {
          this.opts.log.warn("restarting the consumer failed; trying again", { error: String(err) });
          if (this.consumer === c && !c.channel) this.restartConsumerSoon(model, Math.min(delayMs * 2, 5_000));
        })
        .finally(() => {
          this.consumerStarting = false;
        });
    }, delayMs);
  }
}

/** Closes a channel or connection. amqplib resolves close() only on the broker's CloseOk, so a
 * connection that dies first would leave it pending forever: its 'close' event settles it too. */
function settled(target: Channel | ChannelModel, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    target.once("close", () => resolve());
    close().then(resolve, reject);
  });
}

/** `p`, or a QueueUnavailableError once `ms` have passed. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function withHeartbeat(url: string, seconds: number): string {
  const u = new URL(url);
  if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", String(seconds));
  return u.toString();
}
