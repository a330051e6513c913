// The durable history of every soak job, from the private Redis's append-only file: each committed
// record version in order. With `appendfsync always` nothing acknowledged is missing from it, even
// across Redis kills, so it counts double successes without the gaps a subscriber has, and it shows
// how a job that ended wrong got there.
import { readAof } from "./aof.ts";
import { jobSet, type RecordFields, recordFields } from "./job-writes.ts";

export interface DurableHistory {
  /** Record versions per job, in commit order. */
  readonly versions: ReadonlyMap<string, readonly RecordFields[]>;
  /** False if an AOF rewrite folded part of the history into a snapshot. */
  readonly complete: boolean;
  /** Distinct versions committed as `succeeded`. */
  succeededCommits(id: string): number;
  /** "queued → running#1 → queued#1 → running#2 → failed#2 (job-failed)": each change of status or attempt. */
  describe(id: string): string;
}

export function durableHistory(redisDir: string, namespace: string): DurableHistory {
  const { commands, complete } = readAof(redisDir);
  const versions = new Map<string, RecordFields[]>();
  for (const args of commands) {
    const set = jobSet(namespace, args);
    const r = set && recordFields(set.json);
    if (!set || !r) continue;
    const list = versions.get(set.id) ?? [];
    list.push(r);
    versions.set(set.id, list);
  }
  const of = (id: string) => versions.get(id) ?? [];
  return {
    versions,
    complete,
    succeededCommits: (id) =>
      new Set(
        of(id)
          .filter((r) => r.status === "succeeded")
          .map((r) => r.version),
      ).size,
    describe(id) {
      const steps: string[] = [];
      let last = "";
      for (const r of of(id)) {
        const kind = r.errorType ? ` (${r.errorType.replace("urn:herald:problem:", "")})` : "";
        const step = `${r.status}#${r.attempts}${r.status === "running" || r.status === "queued" ? "" : kind}`;
        if (step !== last) steps.push(`v${r.version} ${step}`);
        last = step;
      }
      return steps.join(" → ") || "(no record in the AOF)";
    },
  };
}
