// CPU seconds and RSS of processes, read from /proc (Linux): ours, and the brokers' (found by the
// port they listen on, so a private test broker on another port is never mistaken for the shared one).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { ProcUsage } from "./result.ts";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux we run on). */
const ticksPerSecond = 100;

export interface Watched {
  readonly name: string;
  readonly pid: number;
}

interface Reading {
  readonly cpuSec: number;
  readonly rssMb: number;
}

export function readUsage(pid: number): Reading | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state …": comm may hold spaces, so count fields after the last ")"; utime and
    // stime are fields 14 and 15 overall, 12 and 13 after it.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuSec = (Number(rest[11]) + Number(rest[12])) / ticksPerSecond;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
    return { cpuSec, rssMb: rssKb / 1024 };
  } catch {
    return null; // gone
  }
}

/** Readings of every watched process now; call before and after a measured phase. */
export function snapshot(procs: readonly Watched[]): Map<number, Reading> {
  const out = new Map<number, Reading>();
  for (const p of procs) {
    const r = readUsage(p.pid);
    if (r) out.set(p.pid, r);
  }
  return out;
}

export function usageBetween(
  procs: readonly Watched[],
  before: Map<number, Reading>,
  after: Map<number, Reading>,
): ProcUsage[] {
  return procs.map((p) => {
    const a = before.get(p.pid);
    const b = after.get(p.pid);
    return {
      name: p.name,
      pid: p.pid,
      cpuSec: a && b ? b.cpuSec - a.cpuSec : Number.NaN,
      rssMb: b?.rssMb ?? Number.NaN,
    };
  });
}

/** The pid of the process listening on TCP `port` (IPv4 or IPv6), or null. Needs to read others'
 * /proc/<pid>/fd, which root (or the broker's own user) can. */
export function pidListeningOn(port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("0100007F:1628"), st is f[3] (0A = LISTEN), inode is f[9].
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === "0A" && f[9]) inodes.add(`socket:[${f[9]}]`);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      } catch {}
    }
  }
  return null;
}
