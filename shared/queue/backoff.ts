// Exponential backoff with full jitter, and a sleep that an AbortSignal can cut short.

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Calls `attempt` until it resolves or `timeoutMs` has passed, waiting with backoff in between.
 * `onFailure` is told of each failed try (to log which URL failed and how to fix it).
 */
export async function retryUntil<T>(
  attempt: () => Promise<T>,
  opts: {
    timeoutMs: number;
    baseMs?: number;
    maxMs?: number;
    onFailure: (err: unknown, tryNo: number) => void;
    /** True for an error that waiting cannot fix (bad configuration): thrown at once. */
    isFatal?: (err: unknown) => boolean;
  },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (let tryNo = 1; ; tryNo++) {
    try {
      return await attempt();
    } catch (err) {
      opts.onFailure(err, tryNo);
      if (opts.isFatal?.(err)) throw err;
      const wait = backoffDelay(tryNo, opts.baseMs ?? 200, opts.maxMs ?? 5_000);
      if (Date.now() + wait > deadline) throw err;
      await sleep(wait);
    }
  }
}
