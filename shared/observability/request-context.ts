// The request id of the work in progress (an HTTP request in the API, a job's attempt in the
// worker), kept in AsyncLocalStorage so that code deep below (the queue's publish) can hand it on
// without every signature in between carrying it.
import { AsyncLocalStorage } from "node:async_hooks";

const store = new AsyncLocalStorage<{ requestId: string }>();

export function withRequestId<T>(requestId: string | undefined, fn: () => T): T {
  return requestId ? store.run({ requestId }, fn) : fn();
}

export function currentRequestId(): string | undefined {
  return store.getStore()?.requestId;
}

/** A client's `X-Request-Id` if it is sane (short, no spaces, quotes or control characters), else undefined. */
export function saneRequestId(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9._:+=@/-]{1,128}$/.test(value) ? value : undefined;
}
