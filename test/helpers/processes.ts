// Child processes for end-to-end tests: spawned in their own process group (so a signal reaches
// npm and everything under it), with their output kept for assertions and failure messages.
// Descendants that leave the group (scripts/start.ts runs the services in groups of their own) are
// tracked by pid and start time, so cleanup reaches them too and never hits a reused pid.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where package.json is). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, identifies one process. */
  start: string;
}

function readStat(pid: number | string): ProcStat | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // gone meanwhile
  }
  // "pid (comm) state ppid pgrp … starttime(22nd)": comm may hold spaces and ")", so split after the last ")".
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    pid: Number(pid),
    state: rest[0] ?? "",
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    start: rest[19] ?? "",
  };
}

function allProcesses(): ProcStat[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(readStat)
    .filter((s): s is ProcStat => s !== null);
}

/** A zombie has exited; it only waits for its parent (or init) to reap it. */
const live = (s: ProcStat | null): s is ProcStat => s !== null && s.state !== "Z" && s.state !== "X";

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the spawned process itself has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals the spawned process's group; ignores a group that is already gone. */
  signalGroup(signal: NodeJS.Signals): void;
  /** Remembers every current member of the group and every descendant (call while they run). */
  track(): void;
  /** Pids of tracked processes and group members that are still alive (zombies count as gone). */
  alive(): number[];
  /** Signals the group and every tracked process that is still the same process. */
  killAll(signal: NodeJS.Signals): void;
}

export function spawnGroup(command: string, args: string[], env: Record<string, string>, cwd = repoRoot): Spawned {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  const pgid = child.pid ?? -1;
  const tracked = new Map<number, string>(); // pid → start time

  const isTracked = (s: ProcStat | null): s is ProcStat => s !== null && tracked.get(s.pid) === s.start;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (pgid < 0) return;
    try {
      process.kill(-pgid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
    }
  };

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    signalGroup,
    track() {
      const procs = allProcesses();
      const children = new Map<number, ProcStat[]>();
      for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
      const todo = procs.filter((p) => p.pid === pgid || p.pgrp === pgid);
      const seen = new Set<number>();
      while (todo.length > 0) {
        const p = todo.pop();
        if (!p || seen.has(p.pid)) continue;
        seen.add(p.pid);
        if (live(p)) tracked.set(p.pid, p.start);
        todo.push(...(children.get(p.pid) ?? []));
      }
    },
    alive() {
      const pids = new Set<number>();
      for (const pid of tracked.keys()) {
        const s = readStat(pid);
        if (isTracked(s) && live(s)) pids.add(pid);
      }
      for (const p of allProcesses()) if (p.pgrp === pgid && live(p)) pids.add(p.pid);
      return [...pids];
    },
    killAll(signal) {
      signalGroup(signal);
      for (const pid of tracked.keys()) {
        const s = readStat(pid);
        if (!isTracked(s) || !live(s)) continue;
        try {
          process.kill(pid, signal);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
        }
      }
    },
  };
}

/** Waits for the exit, or rejects after `ms` (the process is left running for the caller to kill). */
export function exitWithin(p: Spawned, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr:\n${p.stderr()}`)), ms);
  });
  return Promise.race([p.exited, timeout]).finally(() => clearTimeout(timer));
}

/** Kills whatever is left of a spawned tree and waits until it is gone. */
export async function killAll(p: Spawned | undefined): Promise<void> {
  if (!p) return;
  p.track();
  if (p.alive().length === 0) return;
  p.killAll("SIGKILL");
  await until(async () => p.alive().length === 0, 5_000, "the killed processes to be gone");
}

/** Safety net: children still running when the test process exits are killed, so none is left
 * holding a port or a broker connection when a test forgets (or fails) to stop it. */
export function killOnExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const c of liveChildren) c.kill("SIGKILL");
    });
  }
}
const liveChildren = new Set<ChildProcess>();
let hooked = false;

/** Polls `check` until it returns true or the deadline passes. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}
