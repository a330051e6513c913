// Matches messages that arrive on a listener to the operation waiting for them, and stamps the
// arrival time in the listener itself (before any promise hop), so latencies end where the
// receiver first sees the message.

interface Waiter {
  resolve(at: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class Arrivals {
  private readonly waiting = new Map<string, Waiter>();

  /** Call before triggering the message. Resolves to the `performance.now()` of its arrival. */
  expect(key: string, timeoutMs: number): Promise<number> {
    if (this.waiting.has(key)) return Promise.reject(new Error(`already waiting for ${key}`));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`${key} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, { resolve, reject, timer });
    });
  }

  /** Call from the listener. Messages nobody waits for (duplicates, late ones) are ignored. */
  arrive(key: string, at: number = performance.now()): void {
    const waiter = this.waiting.get(key);
    if (!waiter) return;
    this.waiting.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve(at);
  }

  /** Stops waiting for `key` (its trigger failed); the pending promise is dropped. */
  forget(key: string): void {
    const waiter = this.waiting.get(key);
    if (!waiter) return;
    this.waiting.delete(key);
    clearTimeout(waiter.timer);
  }

  /**
   * Runs `trigger` and waits for `key`. Resolves to the ms from just before the trigger to the
   * arrival, or with `untilBoth` to whichever came later: the arrival or the trigger's completion.
   */
  async time(key: string, timeoutMs: number, trigger: () => Promise<unknown>, untilBoth = false): Promise<number> {
    const arrived = this.expect(key, timeoutMs);
    arrived.catch(() => {}); // may time out while the trigger still runs; awaited (and thrown) below
    const start = performance.now();
    try {
      await trigger();
    } catch (err) {
      this.forget(key);
      throw err;
    }
    const triggered = performance.now();
    const at = await arrived;
    return (untilBoth ? Math.max(at, triggered) : at) - start;
  }

  /** Rejects everything still waiting (on shutdown). */
  cancelAll(reason: string): void {
    for (const [key, waiter] of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`${key}: ${reason}`));
    }
    this.waiting.clear();
  }
}
