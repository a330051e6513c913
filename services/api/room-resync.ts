// Catches up the job rooms an API instance holds after its subscriber connection was disturbed.
// node-redis puts subscriptions back by itself (after a reconnect, or on the promoted replica when a
// Redis Cluster master is lost), but what was published on a channel while it was not subscribed
// anywhere is gone: a socket in that room would wait for a terminal event that never comes. So for
// each room channel, once things changed: publish a probe on the channel and wait until this
// instance's own subscription delivers it (the subscription is then live again, wherever it is),
// then read the job's state and deliver it to the room's local sockets (`refresh`). A probe not
// heard is tried again, with backoff, for as long as the room exists; every third miss subscribes
// the channel again, in case node-redis gave it up.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeProbe } from "../../shared/events/sharded-room-message.ts";
import type { Logger } from "../../shared/observability/log.ts";
import type { RedisClient } from "../../shared/store/redis-client.ts";

export interface RoomResyncDeps {
  /** Publishes the probes (the adapter's publishing connection). */
  publisher: Pick<RedisClient, "sPublish">;
  /** The job room channels this instance holds now. */
  channels(): Iterable<string>;
  /** Subscribes a channel again (its SSUBSCRIBE, as the room's first join sent it). */
  resubscribe(channel: string): Promise<void>;
  /** Reads the channel's job and delivers what its sockets have not had yet. */
  refresh(channel: string): Promise<void>;
  log: Logger;
}

/** Channels checked at the same time (an instance may hold thousands of rooms). */
const BATCH = 64;
/** How long a probe may take to come back before it counts as missed (and is tried again). */
const PROBE_TIMEOUT_MS = 2_000;

export class RoomResync {
  /** Channel → probes missed in a row. */
  private readonly pending = new Map<string, number>();
  /** Probe nonce → its waiter. */
  private readonly waiting = new Map<string, () => void>();
  /** Bumped whenever subscriptions came back or moved: a check begun before proves nothing after. */
  private generation = 0;
  private running = false;
  private closed = false;
  /** What the current catch-up did (logged when it ends). */
  private tally = { rooms: 0, heard: 0, missed: 0, resubscribed: 0 };
  /** Ends the backoff wait early, when subscriptions came back. */
  private wake: (() => void) | undefined;

  constructor(private readonly deps: RoomResyncDeps) {}

  /** A connection failed: every room may be missing messages until it is checked. */
  lost(): void {
    this.markAll();
  }

  /** Subscriptions came back (or moved): check every room again, even one checked a moment ago. */
  restored(): void {
    this.generation++;
    this.markAll();
    this.wake?.();
  }

  /** A probe came back on this instance's subscription. */
  heard(nonce: string): void {
    this.waiting.get(nonce)?.();
  }

  /** The room is gone: nothing to catch up. */
  forget(channel: string): void {
    this.pending.delete(channel);
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    for (const wake of this.waiting.values()) wake();
    this.wake?.();
  }

  private markAll(): void {
    if (this.closed) return;
    for (const channel of this.deps.channels()) if (!this.pending.has(channel)) this.pending.set(channel, 0);
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const began = Date.now();
    this.tally = { rooms: this.pending.size, heard: 0, missed: 0, resubscribed: 0 };
    try {
      let delay = 100;
      while (!this.closed && this.pending.size > 0) {
        const generation = this.generation;
        const channels = [...this.pending.keys()];
        for (let i = 0; i < channels.length && !this.closed; i += BATCH) {
          await Promise.all(channels.slice(i, i + BATCH).map((c) => this.check(c, generation)));
        }
        if (this.pending.size === 0) break;
        // A retry's backoff (the node may still be down, its replica not yet promoted), cut short
        // when subscriptions come back.
        const cut = new AbortController();
        this.wake = () => cut.abort();
        const early = await sleep(delay, false, { signal: cut.signal }).catch(() => true);
        this.wake = undefined;
        delay = early ? 100 : Math.min(delay * 2, 5_000);
      }
    } catch (err) {
      this.deps.log.error("room resync stopped", { error: String(err) });
    } finally {
      this.running = false;
      // One line per catch-up: how long the rooms took to be live again, and what it took.
      if (this.tally.rooms > 0)
        this.deps.log.info("room resync done", { ...this.tally, ms: Date.now() - began, closed: this.closed });
    }
  }

  private async check(channel: string, generation: number): Promise<void> {
    if (!this.pending.has(channel)) return;
    if (await this.probe(channel)) {
      this.tally.heard++;
      try {
        await this.deps.refresh(channel);
      } catch (err) {
        this.deps.log.warn("room resync read failed; trying again", { channel, error: String(err) });
        return;
      }
      // Subscriptions that moved meanwhile may have dropped messages after the probe: again, then.
      if (this.generation === generation) this.pending.delete(channel);
      return;
    }
    const missed = this.pending.get(channel);
    if (missed === undefined) return; // the room went away meanwhile
    this.pending.set(channel, missed + 1);
    this.tally.missed++;
    if ((missed + 1) % 3 === 0) {
      this.tally.resubscribed++;
      this.deps.log.warn("room channel does not deliver; subscribing it again", { channel, missed: missed + 1 });
      await this.deps.resubscribe(channel).catch((err: unknown) => {
        this.deps.log.warn("room channel resubscribe failed", { channel, error: String(err) });
      });
    }
  }

  /** Whether a probe published on `channel` came back through this instance's subscription. */
  private async probe(channel: string): Promise<boolean> {
    const nonce = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const heard = new Promise<boolean>((resolve) => {
      this.waiting.set(nonce, () => resolve(!this.closed));
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    try {
      await this.deps.publisher.sPublish(channel, encodeProbe(nonce));
      return await heard;
    } catch {
      return false; // the slot's node is not there (yet)
    } finally {
      clearTimeout(timer);
      this.waiting.delete(nonce);
    }
  }
}
