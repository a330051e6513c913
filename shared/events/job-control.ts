// The control seam: the API tells whichever worker runs a job to stop it. Redis pub/sub
// implements it (redis-job-control.ts). At-most-once, so the worker also notices a
// `cancelRequested` flag whenever it writes progress, and on (re)delivery.
export type CancelListener = (jobId: string) => void;

export interface JobControlPublisher {
  requestCancel(jobId: string): Promise<void>;
}

export interface JobControlSubscriber {
  /** Resolves once listening. While the broker is unreachable it keeps trying (it rejects only
   * when its connection has been closed for good). */
  onCancel(listener: CancelListener): Promise<void>;
  /**
   * Called each time the subscription is back after a lost connection. Messages sent in the gap
   * are lost: the listener should re-check `cancelRequested` of the jobs it runs.
   */
  onResubscribed(listener: () => void): void;
}
