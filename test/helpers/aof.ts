// Reads the commands a Redis 7 append-only file holds (multi-part AOF: `appendonlydir/` with a
// manifest, a base file and incremental files). With `appendfsync always` it is the durable history
// of every write, across kills and restarts: a witness without the gaps a subscriber has while
// reconnecting. A base file in RDB format holds a snapshot, not commands: if it is more than an
// empty database, the history before it is gone and `complete` says so.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export interface AofHistory {
  /** Every command in the incremental files, in order: name and arguments (UTF-8). */
  commands: string[][];
  /** False when a rewrite folded earlier commands into an RDB snapshot. */
  complete: boolean;
}

/** An RDB file of an empty database is well under this size. */
const EMPTY_RDB_MAX_BYTES = 256;

export function readAof(dir: string, dirname = "appendonlydir"): AofHistory {
  const base = join(dir, dirname);
  const manifest = readFileSync(join(base, "appendonly.aof.manifest"), "utf8");
  const files = manifest
    .split("\n")
    .map((line) => /^file (\S+) seq (\d+) type ([bhi])/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1] as string, seq: Number(m[2]), type: m[3] as string }));
  let complete = true;
  const commands: string[][] = [];
  for (const f of files.filter((x) => x.type === "b")) {
    if (f.name.endsWith(".rdb")) {
      if (statSync(join(base, f.name)).size > EMPTY_RDB_MAX_BYTES) complete = false;
    } else commands.push(...parseResp(readFileSync(join(base, f.name))));
  }
  for (const f of files.filter((x) => x.type === "i").sort((a, b) => a.seq - b.seq)) {
    commands.push(...parseResp(readFileSync(join(base, f.name))));
  }
  return { commands, complete };
}

/** RESP arrays of bulk strings, as an AOF stores commands. A truncated tail is ignored. */
export function parseResp(buf: Buffer): string[][] {
  const out: string[][] = [];
  let pos = 0;
  const line = (): string | null => {
    const end = buf.indexOf("\r\n", pos);
    if (end < 0) return null;
    const text = buf.toString("latin1", pos, end);
    pos = end + 2;
    return text;
  };
  for (;;) {
    const head = line();
    if (head === null || !head.startsWith("*")) return out;
    const n = Number(head.slice(1));
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = line();
      if (len === null || !len.startsWith("$")) return out;
      const size = Number(len.slice(1));
      if (pos + size + 2 > buf.length) return out;
      args.push(buf.toString("utf8", pos, pos + size));
      pos += size + 2;
    }
    out.push(args);
  }
}
