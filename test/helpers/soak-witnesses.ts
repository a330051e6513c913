// The durable history of every soak job, from the private Redis's append-only file: each committed
// record version in order. With `appendfsync always` nothing acknowledged is missing from it, even
// across Redis kills, so it counts double successes without the gaps a subscriber has, and it shows
// how a job that ended wrong got there.
import { readAof } from "./aof.ts";
import { jobSet, type RecordFields, recordFields } from "./job-writes.ts";

export interface DurableHistory {
  /** Record versions per job, in commit order (a version lost in a failover and committed again
   * appears twice, once per status). */
  readonly versions: ReadonlyMap<string, readonly RecordFields[]>;
  /** False if an AOF rewrite folded part of the history into a snapshot. */
  readonly complete: boolean;
  /** Distinct versions committed as `succeeded`. */
  succeededCommits(id: string): number;
  /** "queued → running#1 → queued#1 → running#2 → failed#2 (job-failed)": each change of status or attempt. */
  describe(id: string): string;
}

/**
 * The history in one Redis's AOF, or merged from every node of a Redis Cluster (`redisDir` a list):
 * each node's AOF holds what it wrote as master or received as replica, so the union holds every
 * acknowledged write however the roles moved, and each version counts once. A node restarted after
 * a kill resyncs from its new master, which starts its AOF anew from a snapshot: list such dirs in
 * `resynced` (what they held before is in the AOF of the node promoted in their place), so that
 * `complete` reports only the loss of history no other node holds.
 *
 * A version may appear twice with different records. With `appendfsync always` a master writes its
 * AOF before it replies and before it streams the write to its replica; killed in between, its AOF
 * holds a write nobody saw acknowledged and the promoted replica never got. The writer retries, and
 * the same version is committed again on the new master, with what the job is now. So a version
 * counts as `succeeded` if any node has it so; the one that lost adds nothing.
 */
export function durableHistory(
  redisDir: string | readonly string[],
  namespace: string,
  resynced: ReadonlySet<string> = new Set(),
): DurableHistory {
  const dirs = typeof redisDir === "string" ? [redisDir] : redisDir;
  // Job → version → status → the record (one per status: the lost twin of a version differs in it).
  const byVersion = new Map<string, Map<number, Map<string, RecordFields>>>();
  let complete = true;
  for (const dir of dirs) {
    const aof = readAof(dir);
    if (!aof.complete && !resynced.has(dir)) complete = false;
    for (const args of aof.commands) {
      const set = jobSet(namespace, args);
      const r = set && recordFields(set.json);
      if (!set || !r) continue;
      const seen = byVersion.get(set.id) ?? new Map<number, Map<string, RecordFields>>();
      const twins = seen.get(r.version) ?? new Map<string, RecordFields>();
      if (!twins.has(r.status)) twins.set(r.status, r);
      seen.set(r.version, twins);
      byVersion.set(set.id, seen);
    }
  }
  const versions = new Map<string, RecordFields[]>();
  for (const [id, seen] of byVersion)
    versions.set(
      id,
      [...seen.values()].flatMap((twins) => [...twins.values()]).sort((a, b) => a.version - b.version),
    );
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

/** What a fault test asks of a witness while jobs run and after (through-kill.ts): the newest
 * committed state of a job, and how many `succeeded` versions it got. */
export interface CommitWitness {
  latest(id: string): { status: string; version: number; attempts: number } | undefined;
  succeededCommits(id: string): number;
  /** Times the witness may have missed commits (0 for the AOF: it misses none). */
  readonly disconnects: number;
  close(): Promise<void>;
}

/** The AOFs of `dirs` as a live witness, read again at most every `refreshMs`: for a Redis Cluster,
 * where no pub/sub subscriber sees every job's changes (they are sharded per job). */
export function aofWitness(
  dirs: () => readonly string[],
  namespace: string,
  resynced: () => ReadonlySet<string> = () => new Set(),
  refreshMs = 200,
): CommitWitness {
  let read: { at: number; history: DurableHistory } | undefined;
  const history = () => {
    if (!read || Date.now() - read.at > refreshMs) {
      const history = durableHistory(dirs(), namespace, resynced());
      // From the end of the read: a read slower than refreshMs would otherwise run on every call.
      read = { at: Date.now(), history };
    }
    return read.history;
  };
  return {
    latest: (id) => history().versions.get(id)?.at(-1),
    // Fresh, not cached: the verdict is taken once, after the last commit.
    succeededCommits: (id) => {
      read = undefined;
      return history().succeededCommits(id);
    },
    disconnects: 0,
    close: async () => undefined,
  };
}
