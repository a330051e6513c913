// Prometheus metrics (prom-client), one set per process side. Each factory registers on the
// Registry it is given, never on prom-client's global one: tests get a fresh registry, and an API
// and workers running in one process (the test stack) keep their counts apart.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { JobEventPublisher } from "../events/job-events.ts";
import type { JobView } from "../jobs/schemas.ts";

export { Registry };

/** Every metric name Herald defines (the dashboard test checks its queries against /metrics). */
export const metricNames = {
  accepted: "herald_jobs_accepted_total",
  succeeded: "herald_jobs_succeeded_total",
  failed: "herald_jobs_failed_total",
  canceled: "herald_jobs_canceled_total",
  retried: "herald_jobs_retried_total",
  deadLettered: "herald_jobs_dead_lettered_total",
  attemptDuration: "herald_attempt_duration_seconds",
  queueWait: "herald_queue_wait_seconds",
  queueDepth: "herald_queue_depth",
  sockets: "herald_sockets_connected",
  sseStreams: "herald_sse_streams_open",
  longPolls: "herald_long_polls_held",
  notificationDelay: "herald_notification_delay_seconds",
  brokerReconnects: "herald_broker_reconnects_total",
} as const;

type Outcome = "succeeded" | "failed" | "canceled" | "retried" | "dead_lettered";
export type Broker = "rabbitmq" | "redis";

/** What both sides count: job endings they commit, notifications they emit, broker reconnects. */
export interface CommonMetrics {
  readonly registry: Registry;
  /** Counts a job outcome committed by this process (dead_lettered: a message sent to the DLQ). */
  outcome(kind: Outcome, type: string): void;
  /** Counts the outcome a committed status stands for: an ending, or `queued` again (a retry). */
  ended(status: JobView["status"], type: string): void;
  /** Commit → emit of a change notification, from the record's `updatedAt`. */
  readonly notificationDelay: Histogram;
  readonly brokerReconnects: Counter<"broker">;
  /** A callback for a connection's `onReconnect`: counts one reconnect to `broker`. */
  reconnected(broker: Broker): () => void;
}

export interface ApiMetrics extends CommonMetrics {
  /** Sets the probe a scrape reads the queue depth from (a broker round trip, itself bounded by
   * PUBLISH_TIMEOUT_MS); it is read at most once a second, the last value shown in between. */
  probeQueueDepth(probe: () => Promise<number>): void;
  readonly accepted: Counter<"type">;
  readonly sockets: Gauge;
  readonly sseStreams: Gauge;
  readonly longPolls: Gauge;
}

export interface WorkerMetrics extends CommonMetrics {
  readonly attemptDuration: Histogram<"type" | "outcome">;
  readonly queueWait: Histogram<"type">;
}

const secondsBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800];

function common(registry: Registry): CommonMetrics {
  collectDefaultMetrics({ register: registry });
  const outcomes: Record<Outcome, Counter<"type">> = {
    succeeded: new Counter({
      name: metricNames.succeeded,
      help: "Jobs that ended succeeded",
      labelNames: ["type"],
      registers: [registry],
    }),
    failed: new Counter({
      name: metricNames.failed,
      help: "Jobs that ended failed",
      labelNames: ["type"],
      registers: [registry],
    }),
    canceled: new Counter({
      name: metricNames.canceled,
      help: "Jobs that ended canceled (queued jobs by the API, running ones by their worker)",
      labelNames: ["type"],
      registers: [registry],
    }),
    retried: new Counter({
      name: metricNames.retried,
      help: "Failed attempts queued for a retry",
      labelNames: ["type"],
      registers: [registry],
    }),
    dead_lettered: new Counter({
      name: metricNames.deadLettered,
      help: "Job messages sent to the dead-letter queue (type 'unknown' if the message was unreadable)",
      labelNames: ["type"],
      registers: [registry],
    }),
  };
  const brokerReconnects = new Counter({
    name: metricNames.brokerReconnects,
    help: "Connections to a broker restored after a loss",
    labelNames: ["broker"],
    registers: [registry],
  });
  // Both series exist from the start, so rate() sees the first reconnect.
  for (const broker of ["rabbitmq", "redis"] as const) brokerReconnects.inc({ broker }, 0);
  return {
    registry,
    brokerReconnects,
    reconnected: (broker) => () => brokerReconnects.inc({ broker }),
    outcome: (kind, type) => outcomes[kind].inc({ type }),
    ended: (status, type) => {
      if (status === "queued") outcomes.retried.inc({ type });
      else if (status !== "running") outcomes[status].inc({ type });
    },
    notificationDelay: new Histogram({
      name: metricNames.notificationDelay,
      help: "Seconds from a job change's commit to its notification being emitted",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export function createApiMetrics(registry: Registry, depthMaxAgeMs = 1_000): ApiMetrics {
  let probe: (() => Promise<number>) | null = null;
  let readAt = 0;
  new Gauge({
    name: metricNames.queueDepth,
    help: "Messages ready in the job queue (read on scrape, at most once a second; the last value if the probe fails)",
    registers: [registry],
    async collect() {
      if (!probe || Date.now() - readAt < depthMaxAgeMs) return;
      readAt = Date.now();
      try {
        this.set(await probe());
      } catch {
        // Broker away: keep the last value; readiness and reconnect counts tell the story.
      }
    },
  });
  return {
    ...common(registry),
    probeQueueDepth: (p) => {
      probe = p;
    },
    accepted: new Counter({
      name: metricNames.accepted,
      help: "Jobs accepted (202) by POST /jobs, idempotent replays not counted",
      labelNames: ["type"],
      registers: [registry],
    }),
    sockets: new Gauge({ name: metricNames.sockets, help: "Connected Socket.IO sockets", registers: [registry] }),
    sseStreams: new Gauge({ name: metricNames.sseStreams, help: "Open SSE streams", registers: [registry] }),
    longPolls: new Gauge({
      name: metricNames.longPolls,
      help: "Requests held waiting for a change (long polls and Prefer: wait)",
      registers: [registry],
    }),
  };
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  return {
    ...common(registry),
    attemptDuration: new Histogram({
      name: metricNames.attemptDuration,
      help: "Seconds an attempt's handler ran, by how it ended",
      labelNames: ["type", "outcome"],
      buckets: secondsBuckets,
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: metricNames.queueWait,
      help: "Seconds from a job's createdAt (or its retry's due time) to the start of its attempt",
      labelNames: ["type"],
      buckets: secondsBuckets,
      registers: [registry],
    }),
  };
}

/** Wraps an event publisher to observe each notification's delay since its commit. */
export function meteredEvents(inner: JobEventPublisher, metrics: Pick<CommonMetrics, "notificationDelay">) {
  const observe = (view: JobView) => {
    const committedAt = Date.parse(view.updatedAt);
    if (Number.isFinite(committedAt)) metrics.notificationDelay.observe(Math.max(0, Date.now() - committedAt) / 1000);
  };
  return {
    publish(view: JobView): void {
      inner.publish(view);
      observe(view);
    },
    ...(inner.encode ? { encode: inner.encode.bind(inner) } : {}),
    sentWithCommit(view: JobView): void {
      inner.sentWithCommit?.(view);
      observe(view);
    },
  } satisfies JobEventPublisher;
}

/** Seconds since `from` (an ISO time), never negative. */
export const secondsSince = (from: string | undefined, now = Date.now()): number =>
  Math.max(0, now - Date.parse(from ?? "")) / 1000 || 0;
