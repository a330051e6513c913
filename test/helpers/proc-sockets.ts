// Which local process owns a loopback TCP connection, read from /proc (Linux only): a Redis MONITOR
// line names its client by address ("127.0.0.1:40312"), this maps that address to a pid.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Local addresses ("127.0.0.1:<port>") of the IPv4 TCP connections each of `pids` has open to
 * `remotePort`, by pid. A pid that is gone maps to nothing. */
export function connectionsTo(remotePort: number, pids: readonly number[]): Map<number, string[]> {
  const byInode = new Map<string, string>(); // socket inode → local address
  for (const line of readLines("/proc/net/tcp").slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const remote = f[2];
    const inode = f[9];
    if (!local || !remote || !inode || hexPort(remote) !== remotePort) continue;
    byInode.set(inode, `${hexIPv4(local)}:${hexPort(local)}`);
  }
  const result = new Map<number, string[]>();
  for (const pid of pids) {
    const addresses: string[] = [];
    for (const inode of socketInodes(pid)) {
      const address = byInode.get(inode);
      if (address) addresses.push(address);
    }
    result.set(pid, addresses);
  }
  return result;
}

/** The process state letter from /proc/<pid>/stat ("T" when stopped), or null if it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? null;
  } catch {
    return null;
  }
}

function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // gone
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.push(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

const hexPort = (hostPort: string): number => Number.parseInt(hostPort.split(":")[1] ?? "", 16);

/** /proc/net/tcp writes an IPv4 address as 8 hex digits in host (little-endian) byte order. */
function hexIPv4(hostPort: string): string {
  const hex = hostPort.split(":")[0] ?? "";
  const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes.join(".");
}

/** Maps client addresses (as a server on `serverPort` sees them) to the pids among `pids()` that own
 * them, caching each answer: look an address up while its connection is open. */
export class ClientOwners {
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly serverPort: number,
    private readonly pids: () => number[],
  ) {}

  pidOf(address: string): number | undefined {
    const known = this.cache.get(address);
    if (known !== undefined) return known;
    for (const [pid, addresses] of connectionsTo(this.serverPort, this.pids())) {
      for (const a of addresses) this.cache.set(a, pid);
    }
    return this.cache.get(address);
  }

  /** Every current address of `pid` (fresh from /proc). */
  addressesOf(pid: number): string[] {
    return connectionsTo(this.serverPort, [pid]).get(pid) ?? [];
  }

  /** The process exited: its addresses may be reused by others. */
  forgetPid(pid: number): void {
    for (const [a, p] of this.cache) if (p === pid) this.cache.delete(a);
  }

  /** Every connection was dropped (the server restarted). */
  clear(): void {
    this.cache.clear();
  }
}
