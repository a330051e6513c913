// Who wrote each job's current record: the newest `SET <ns>:job:<id>` that a Redis MONITOR tap
// reported (a commit script's SET is reported with the client that ran the script), with the pid
// of the process behind that client. The soak uses it to stop a worker while it provably runs a job.
import { jobIdOfKey } from "./redis-keys.ts";
import type { MonitoredCommand } from "./redis-monitor.ts";

export interface JobWrite {
  /** The process that wrote it; undefined when unknown (written while the tap was away). */
  pid: number | undefined;
  /** The record as stored (JSON text), to compare with what a GET returns. */
  json: string;
  status: string;
  attempts: number;
  version: number;
  /** Progress percent the record shows. */
  percent: number;
  /** When the tap reported it (ms since the epoch). */
  seenAt: number;
}

export interface RecordFields {
  id: string;
  status: string;
  attempts: number;
  version: number;
  percent: number;
  errorType?: string;
}

/** The job id and record of a `SET <ns>:{<tag>}:job:<id> <json> …`, or null for any other command. */
export function jobSet(namespace: string, args: readonly string[]): { id: string; json: string } | null {
  if (args[0]?.toUpperCase() !== "SET" || args.length < 3) return null;
  const id = jobIdOfKey(namespace, args[1] as string);
  if (id === null || !/^[0-9a-f-]{36}$/i.test(id)) return null; // a result or another per-job key
  return { id, json: args[2] as string };
}

export function recordFields(json: string): RecordFields | null {
  try {
    const r = JSON.parse(json) as Partial<RecordFields> & {
      progress?: { percent?: number };
      error?: { type?: string };
    };
    if (typeof r.id !== "string" || typeof r.status !== "string" || typeof r.version !== "number") return null;
    return {
      id: r.id,
      status: r.status,
      attempts: r.attempts ?? 0,
      version: r.version,
      percent: r.progress?.percent ?? 0,
      ...(r.error?.type ? { errorType: r.error.type } : {}),
    };
  } catch {
    return null;
  }
}

export class JobWrites {
  private readonly latest = new Map<string, JobWrite>();

  /** `pidOf` maps a client address to its process (undefined if unknown). */
  constructor(
    private readonly namespace: string,
    private readonly pidOf: (client: string) => number | undefined,
  ) {}

  onCommand(c: MonitoredCommand): void {
    const cmd = c.args[0]?.toUpperCase();
    if (cmd === "DEL" || cmd === "UNLINK") {
      for (const key of c.args.slice(1)) {
        const id = jobIdOfKey(this.namespace, key);
        if (id !== null) this.latest.delete(id);
      }
      return;
    }
    const set = jobSet(this.namespace, c.args);
    if (!set) return;
    this.put(set.id, set.json, this.pidOf(c.client));
  }

  /** Records a state read directly (after a gap in the tap): its writer is unknown. */
  learn(id: string, json: string): void {
    if (this.latest.get(id)?.json !== json) this.put(id, json, undefined);
  }

  get(id: string): JobWrite | undefined {
    return this.latest.get(id);
  }

  /** Jobs whose current record says `running`. */
  running(): [string, JobWrite][] {
    return [...this.latest].filter(([, w]) => w.status === "running");
  }

  private put(id: string, json: string, pid: number | undefined): void {
    const r = recordFields(json);
    if (!r) return;
    const { status, attempts, version, percent } = r;
    this.latest.set(id, { pid, json, status, attempts, version, percent, seenAt: Date.now() });
  }
}
