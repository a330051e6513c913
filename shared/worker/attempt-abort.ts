// How an attempt is stopped (timeout, cancel, shutdown): the handler's AbortSignal, and the promise
// the attempt races the handler against so that a handler that ignores its signal is left behind.
// The AbortController is made only when the handler reads `ctx.signal` (a handler that never looks
// costs none), and the race is one promise rejected directly, not a listener on the signal.
export class AttemptAbort {
  private controller: AbortController | null = null;
  private stopped = false;
  private why: unknown;
  private rejectRace: ((reason: unknown) => void) | null = null;

  get aborted(): boolean {
    return this.stopped;
  }

  /** Why it was aborted (a ShutdownAbort, CancelAbort or timeout), once it was. */
  get reason(): unknown {
    return this.why;
  }

  /** The handler's signal: made on first use, aborted already if the attempt was. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopped) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  /** Aborts the attempt; the first reason counts, as with an AbortController. */
  abort(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.why = reason;
    this.controller?.abort(reason);
    this.rejectRace?.(reason);
  }

  /** `work`'s outcome, or a rejection with the reason as soon as the attempt is aborted. */
  race<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.stopped) reject(this.why);
      this.rejectRace = reject;
      work.then(resolve, reject);
    });
  }
}
