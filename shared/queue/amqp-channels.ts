// Small amqplib helpers shared by the queue's connection, publisher and consumer.
import type { Channel, ChannelModel } from "amqplib";
import { QueueUnavailableError } from "./job-queue.ts";

/** Closes a channel or connection. amqplib resolves close() only on the broker's CloseOk, so a
 * connection that dies first would leave it pending forever: its 'close' event settles it too. */
export function settled(target: Channel | ChannelModel, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    target.once("close", () => resolve());
    close().then(resolve, reject);
  });
}

/** `p`, or a QueueUnavailableError once `ms` have passed. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** True once `p` resolved within `ms`, false while it is still pending then (rejects as `p` does). */
export function doneWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}

/** Destroys a connection's socket. amqplib only ends it when the connection closes; a hung peer
 * never answers that, and the socket would stay open until the peer dies or wakes. */
export function destroySocket(model: ChannelModel): void {
  (model as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/** Closes a channel within 2 s; a channel that died already counts as closed. */
export function closeChannel(ch: Channel): Promise<void> {
  return withTimeout(
    settled(ch, () => ch.close()),
    2_000,
    "closing a channel",
  );
}

export function withHeartbeat(url: string, seconds: number): string {
  const u = new URL(url);
  if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", String(seconds));
  return u.toString();
}
