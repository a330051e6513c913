// JobQueue on RabbitMQ (amqplib). Owns one connection and reconnects it with backoff, recreating
// the topology, the confirm channel and the consumer. amqplib's own recovery is not used: it
// restores neither channels nor consumers, and can throw uncaught during its setup callback.
// With several nodes (a cluster) it connects to the first that answers, and after losing a node
// tries the next ones first, so it moves off a dead node instead of waiting for it.
import amqp, { type Channel, type ChannelModel } from "amqplib";
import type { JobMessage } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import type { QueueType } from "../runtime/amqp-nodes.ts";
import { type Config, redactUrl } from "../runtime/config.ts";
import { type Names, names } from "../store/names.ts";
import { closeChannel, destroySocket, doneWithin, settled, withHeartbeat, withTimeout } from "./amqp-channels.ts";
import { backoffDelay, retryUntil, sleep } from "./backoff.ts";
import { type DeliveryHandler, type JobQueue, type PublishOptions, QueueUnavailableError } from "./job-queue.ts";
import { bindTopology, declareTopology, TopologyMismatchError } from "./queue-topology.ts";
import { RabbitConsumer } from "./rabbit-consumer.ts";
import { RabbitPublisher } from "./rabbit-publisher.ts";

export interface RabbitOptions {
  /** One node's URL, or the nodes of a cluster in the order to try them. */
  url: string | readonly string[];
  names: Names;
  log: Logger;
  /** How long the first connection may take before `connect` gives up. */
  connectTimeoutMs: number;
  /** How long a publish may wait for the broker's confirm. */
  publishTimeoutMs: number;
  /** AMQP heartbeat asked for when the URL names none (`?heartbeat=`); default 5. */
  heartbeatSeconds?: number;
  /** Type of the queues this process declares (default classic; see queue-topology.ts). */
  queueType?: QueueType;
  /** Quorum queues' x-delivery-limit (default 50). */
  deliveryLimit?: number;
  /** Called each time a lost connection is restored (the broker reconnects metric). */
  onReconnect?: () => void;
}

/** A hung node (its sockets open, nothing answered) is left after two silent heartbeats: 10-15 s
 * at 5 s, against 30-45 s at 15 s. RabbitMQ advises 5-20 s; without one, amqplib takes the
 * server's (60 s by default). */
const DEFAULT_HEARTBEAT_SECONDS = 5;

/** How long a reconnect waits for its re-binds (see openNode). */
const BIND_WAIT_MS = 3_000;

export class RabbitJobQueue implements JobQueue {
  private model: ChannelModel | null = null;
  private readonly publisher: RabbitPublisher;
  private consumer: RabbitConsumer | null = null;
  /** Every consumer made, the stopped ones included: their channels may still settle deliveries
   * until close(). */
  private readonly consumers: RabbitConsumer[] = [];
  private closing = false;
  private reconnecting = false;
  /** The bindings were confirmed once (on any node): later connections do not wait for them. */
  private bound = false;
  /** Connections RabbitMQ has blocked (connection.blocked), with its reason. */
  private readonly blocked = new WeakMap<ChannelModel, string>();
  private readonly urls: readonly string[];
  /** The node of the current connection (an index into urls), and the first one to try next. */
  private node = 0;
  private nextNode = 0;

  private constructor(private readonly opts: RabbitOptions) {
    this.urls = typeof opts.url === "string" ? [opts.url] : [...opts.url];
    if (this.urls.length === 0) throw new TypeError("RabbitJobQueue: no RabbitMQ URL");
    this.publisher = new RabbitPublisher(opts.names, opts.log, opts.publishTimeoutMs);
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

  refusing(): string | null {
    return (this.model && this.blocked.get(this.model)) ?? null;
  }

  /** Publishes a job message and resolves once RabbitMQ confirms it (rejects with a
   * QueueUnavailableError when it refuses, cannot route it, or does not answer in time). */
  publish(message: JobMessage, opts: PublishOptions = {}): Promise<void> {
    const refusing = this.refusing();
    // A blocked connection is not read by RabbitMQ: the message would only wait out the timeout.
    if (refusing) return Promise.reject(new QueueUnavailableError(`RabbitMQ refuses publishes: ${refusing}`));
    return this.publisher.publish(this.model, message, opts);
  }

  async consume(handler: DeliveryHandler, prefetch: number): Promise<void> {
    if (this.consumer) throw new Error("already consuming");
    const host = {
      queue: this.opts.names.jobsQueue,
      log: this.opts.log,
      isCurrent: (model: ChannelModel) => this.model === model && !this.closing,
    };
    this.consumer = new RabbitConsumer(host, handler, prefetch);
    this.consumers.push(this.consumer);
    if (this.model) await this.consumer.start(this.model);
  }

  async stopConsuming(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    await c?.stop();
  }

  /** Messages waiting in the jobs queue (not counting unacked ones). */
  async depth(): Promise<number> {
    const probe = this.publisher.channel(this.model).then((ch) => ch.checkQueue(this.opts.names.jobsQueue));
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
      await closeChannel(ch).catch(() => {}); // a channel that died already is closed
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const model = this.model;
    this.model = null;
    // Channels first: a channel's CloseOk comes after the acks sent on it, so none of them is
    // still in a buffer when the connection goes (RabbitMQ would requeue those messages).
    for (const c of this.consumers) await c.closeChannels();
    await this.publisher.close();
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
    const model = await amqp.connect(withHeartbeat(url, this.opts.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS), {
      timeout: 5_000,
    });
    let lost = false;
    // Listeners first: an 'error' with no listener kills the process.
    model.on("error", (err: Error) => log.warn("RabbitMQ connection error", { error: err.message }));
    // A resource alarm (memory or disk): RabbitMQ stops reading publishing connections until it ends.
    model.on("blocked", (reason: unknown) => {
      const why = String(reason || "blocked");
      this.blocked.set(model, why);
      log.warn("RabbitMQ blocks this connection's publishes (resource alarm); they fail until it ends", {
        reason: why,
      });
    });
    model.on("unblocked", () => {
      this.blocked.delete(model);
      log.info("RabbitMQ accepts publishes again");
    });
    model.on("close", () => {
      lost = true;
      destroySocket(model);
      this.onConnectionLost(model);
    });
    try {
      const setup = await model.createChannel();
      setup.on("error", (err: Error) => log.warn("RabbitMQ setup channel error", { error: err.message }));
      await declareTopology(setup, names, {
        queueType: this.opts.queueType ?? "classic",
        deliveryLimit: this.opts.deliveryLimit ?? 50,
      });
      const bound = bindTopology(setup, names).then(() => settled(setup, () => setup.close()));
      // Bound once already (durable bindings), a reconnect waits BIND_WAIT_MS at most for its
      // re-binds, which a hung node of the cluster can hold for a minute (bindTopology); they then
      // complete on their own, and one that fails on the connection in use makes us reconnect.
      if (!this.bound || (await doneWithin(bound, BIND_WAIT_MS))) {
        await bound;
        this.bound = true;
      } else {
        bound.catch((err: unknown) => {
          if (lost) return; // the next connection binds again
          log.warn("RabbitMQ bind failed; reconnecting", { error: String(err) });
          model.close().catch(() => {});
        });
      }
      await this.consumer?.start(model);
      if (this.closing) throw new Error("closing");
      // Until it is this.model, a close is not handled by onConnectionLost (and amqplib may have
      // settled nothing above): the caller's retry loop takes over.
      if (lost) throw new Error("the RabbitMQ connection closed during setup");
      this.model = model;
      this.node = node;
      this.nextNode = node;
      this.publisher.reset();
      // The consumer channel died in between (the connection lives): onConnectionLost did not see it.
      if (this.consumer && !this.consumer.running) this.consumer.restartSoon(model);
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
    this.publisher.reset();
    this.consumer?.detach();
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
}
