// The control seam: the API tells whichever worker runs a job to stop it. Redis pub/sub
// implements it (redis-job-control.ts). At-most-once, so the worker also notices a
// `cancelRequested` flag whenever it writes progress, and on (re)delivery.
export type CancelListener = (jobId: string) => void;

export interface JobControlPublisher {
  requestCancel(jobId: string): Promise<void>;
}

export interface JobControlSubscriber {
  /** Resolves once listening. */
  onCancel(listener: CancelListener): Promise<void>;
}
