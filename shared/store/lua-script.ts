// A Lua script called by its SHA1 (EVALSHA): Redis keeps it compiled, and its text (with the
// documentation at its top, 1-2 KB) is neither sent nor hashed again on every call. A Redis that does
// not know it (restarted, SCRIPT FLUSH) answers NOSCRIPT without running anything; the script is then
// sent once with EVAL, which caches it for the calls after.
import { createHash } from "node:crypto";
import type { RedisClient } from "./redis-job-store.ts";

export interface ScriptCall {
  keys: string[];
  arguments: (string | Buffer)[];
}

export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: RedisClient, call: ScriptCall): Promise<unknown> {
    try {
      return await redis.evalSha(this.sha, call);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.source, call);
    }
  }
}

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith("NOSCRIPT");
