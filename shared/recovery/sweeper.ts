// Repairs what a crash or a lost message leaves behind. Every API instance and every worker runs
// one, so it runs wherever anything runs (with no worker up, a stalled job still ends). Each repair
// is a compare-and-set guarded by what it saw, so several sweepers never repair one job twice.
//  - stalled: a `running` job whose lease expired more than `stallTimeoutMs` ago ends `failed`
//    (worker-lost), but only if the lease is still expired at the moment of the write.
//  - lost messages: a `queued` job due more than `queueWatchdogMs` ago (a retry whose message a
//    classic queue dropped while dead-lettering it back, or a job whose API died before its publish
//    was confirmed) has its message published again, once per version of the job.
import { announcedTransition } from "../events/announced-transition.ts";
import type { JobEventPublisher } from "../events/job-events.ts";
import { jobProblem } from "../jobs/problems.ts";
import type { JobRecord } from "../jobs/schemas.ts";
import type { Logger } from "../observability/log.ts";
import type { CommonMetrics } from "../observability/metrics.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import type { JobStore, LeaseStore } from "../store/job-store.ts";
import { troubleCapMs, troubleGraceMs } from "../store/redis-trouble.ts";

export interface SweeperDeps {
  store: JobStore & LeaseStore;
  queue: Pick<JobQueue, "publish">;
  events: JobEventPublisher;
  log: Logger;
  stallTimeoutMs: number;
  /** When this process last saw Redis fail or come back (RedisTrouble.lastAt): for a grace after
   * it, only leases lapsed longer than troubleCapMs count as stalled. Absent: never. */
  redisTroubleAt?: () => number;
  queueWatchdogMs: number;
  intervalMs: number;
  /** Jobs this process runs itself: their leases are renewed here, never swept here. */
  isLocal?: (jobId: string) => boolean;
  /** Counts the jobs it ends (worker-lost). */
  metrics?: Pick<CommonMetrics, "ended">;
}

/** How often to sweep: often enough for both bounds, never busier than 4 times a second. */
export function sweepIntervalMs(leaseMs: number, queueWatchdogMs: number): number {
  return Math.max(250, Math.min(leaseMs, queueWatchdogMs / 4));
}

const batch = 100;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly deps: SweeperDeps) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => {
        this.sweeping = null;
      });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round of both repairs. Never throws: a failed round is logged and the next one tries again. */
  async sweep(): Promise<void> {
    try {
      await this.sweepStalled();
      await this.sweepQueued();
    } catch (err) {
      this.deps.log.warn("sweep failed", { error: String(err) });
    }
  }

  private async sweepStalled(): Promise<void> {
    const { store, log } = this.deps;
    // Leases lapse while Redis is unreachable (their workers cannot renew): after trouble, judge
    // only those lapsed longer than the cap (worker/begin-attempt.ts does the same for takeovers).
    const now = Date.now();
    const troubled = (this.deps.redisTroubleAt?.() ?? 0) + troubleGraceMs > now;
    const stallMs = troubled ? Math.max(this.deps.stallTimeoutMs, troubleCapMs) : this.deps.stallTimeoutMs;
    const before = now - stallMs;
    for (const id of await store.expiredLeases(stallMs, batch)) {
      if (this.deps.isLocal?.(id)) continue;
      const seen = await store.get(id);
      if (seen?.status !== "running") {
        await store.dropExpiredLease(id, before); // a leftover entry of an ended or gone job
        continue;
      }
      const detail = "its worker stopped renewing the job's lease";
      const failed = await announcedTransition(
        store,
        this.deps.events,
        id,
        (cur) =>
          cur.status === "running"
            ? {
                status: "failed",
                error: jobProblem("workerLost", detail, { attempts: cur.attempts }),
                finishedAt: new Date().toISOString(),
              }
            : null,
        // The lease may have been renewed since we listed it: the write re-checks it.
        { known: seen, leaseExpiredBefore: before },
      );
      if (failed) {
        this.deps.metrics?.ended("failed", failed.type);
        await store.releaseLease(id, failed.attemptId ?? "");
        log.warn("failed a stalled job", { jobId: id });
      }
    }
  }

  private async sweepQueued(): Promise<void> {
    const { store, log } = this.deps;
    const now = Date.now();
    for (const id of await store.overdueQueued(now - this.deps.queueWatchdogMs, batch)) {
      const seen = await store.get(id);
      if (seen?.status !== "queued") {
        await store.resetQueued(id, null); // expired, or left `queued` without the index noticing
        continue;
      }
      const payload = await store.getPayload(id);
      if (payload === null || typeof payload !== "object") {
        log.warn("a queued job is overdue but its payload is not stored; cannot republish it", { jobId: id });
        await store.resetQueued(id, now);
        continue;
      }
      // One republish per version: only the sweeper whose write lands publishes.
      const bumped = await announcedTransition(
        store,
        this.deps.events,
        id,
        (cur) => (sameVersion(cur, seen) ? { retryAt: undefined } : null),
        { known: seen, queuedDueMs: now },
      );
      if (!bumped) continue;
      try {
        await this.deps.queue.publish({
          v: 1,
          jobId: id,
          type: bumped.type,
          payload: payload as Record<string, unknown>,
        });
        log.warn("republished a queued job whose message went missing", { jobId: id, version: bumped.version });
      } catch (err) {
        log.warn("republishing an overdue job failed; trying again next round", { jobId: id, error: String(err) });
        await store.resetQueued(id, now - this.deps.queueWatchdogMs);
      }
    }
  }
}

const sameVersion = (cur: JobRecord, seen: JobRecord): boolean =>
  cur.status === "queued" && cur.version === seen.version;
