// Watches every committed change of a namespace's jobs from outside the processes: the record
// writes themselves, seen through Redis MONITOR (commit-job.lua's SET of the job's record key; the
// job events channels are sharded, and sharded pub/sub has no pattern subscriptions).
// What it shows: how many `succeeded` commits a job got (compare-and-set allows at most one, so
// more would be a real double completion) and which attempts started `running`.
// A gap is possible only while the MONITOR connection is down (a Redis restart), which
// `disconnects` counts, so a caller can tell "none seen" from "not watched".

import type { JobStatus } from "../../shared/jobs/schemas.ts";
import type { Names } from "../../shared/store/names.ts";
import { monitorRedis } from "./redis-monitor.ts";

export interface Change {
  version: number;
  status: JobStatus;
  attempts: number;
  percent: number;
  at: number;
}

export interface JobHistory {
  /** Every change seen per job id, in arrival order. */
  readonly changes: ReadonlyMap<string, readonly Change[]>;
  /** Distinct versions committed as `succeeded`. */
  succeededCommits(id: string): number;
  /** Distinct attempt numbers seen `running`. */
  runningAttempts(id: string): number[];
  /** The newest status seen (by version), if any. */
  latest(id: string): Change | undefined;
  /** How often the watching connection dropped (each drop may have lost messages). */
  readonly disconnects: number;
  close(): Promise<void>;
}

export async function watchJobHistory(redisUrl: string, n: Names): Promise<JobHistory> {
  const changes = new Map<string, Change[]>();
  const monitor = await monitorRedis(Number(new URL(redisUrl).port || 6379), ({ script, args }) => {
    // A commit: SET <record key> <record JSON> EX <ttl> from commit-job.lua (create-job's SET has NX).
    const [command, key, json] = args;
    if (!script || command?.toUpperCase() !== "SET" || !key || !json || args.includes("NX")) return;
    if (!key.startsWith(`${n.namespace}:`)) return;
    try {
      const r = JSON.parse(json) as {
        id: string;
        version: number;
        status: JobStatus;
        attempts: number;
        progress?: { percent?: number };
      };
      if (key !== n.jobKey(r.id)) return;
      const list = changes.get(r.id) ?? [];
      const percent = r.progress?.percent ?? 0;
      list.push({ version: r.version, status: r.status, attempts: r.attempts, percent, at: Date.now() });
      changes.set(r.id, list);
    } catch {
      // not a record: nothing the store wrote
    }
  });
  // Back as soon as Redis is (after a restart).
  let closed = false;
  let rejoining = false;
  const rejoin = setInterval(() => {
    if (closed || rejoining || monitor.connected) return;
    rejoining = true;
    monitor
      .reconnect()
      .catch(() => {})
      .finally(() => {
        rejoining = false;
      });
  }, 100);
  const of = (id: string) => changes.get(id) ?? [];
  return {
    changes,
    succeededCommits: (id) =>
      new Set(
        of(id)
          .filter((c) => c.status === "succeeded")
          .map((c) => c.version),
      ).size,
    runningAttempts: (id) =>
      [
        ...new Set(
          of(id)
            .filter((c) => c.status === "running")
            .map((c) => c.attempts),
        ),
      ].sort((a, b) => a - b),
    latest: (id) => of(id).reduce<Change | undefined>((a, c) => (a && a.version >= c.version ? a : c), undefined),
    get disconnects() {
      return monitor.drops;
    },
    async close() {
      closed = true;
      clearInterval(rejoin);
      monitor.close();
    },
  };
}

/** Handler runs that reached the final commit, per job id, from workers' JSON log lines ("job
 * finished": `succeeded`, or `fenced` when the attempt had lost the job to another attempt or an
 * ending). A job with two of these
 * ran to completion twice. A process's log is capped (cluster.ts keeps 512 KB), so this is a lower
 * bound on a very long run. */
export function completionsInLogs(outputs: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const output of outputs) {
    for (const line of output.split("\n")) {
      if (!line.includes('"job finished"')) continue;
      try {
        const entry = JSON.parse(line) as { msg?: string; jobId?: string; status?: string };
        if (entry.msg !== "job finished" || !entry.jobId) continue;
        if (entry.status === "succeeded" || entry.status === "fenced") {
          counts.set(entry.jobId, (counts.get(entry.jobId) ?? 0) + 1);
        }
      } catch {
        // a line cut by the log cap
      }
    }
  }
  return counts;
}
