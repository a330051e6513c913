// The Lua scripts of the Redis job store, one file per transition in ./scripts/ (KEYS and ARGV are
// documented at the top of each). They are read from files, not inlined, so a worker written in
// another language calls the very same compare-and-set (docs/worker-protocol.md). Paths resolve
// from this module's URL, so they work from the sources and from a build that copies the .lua files.
import { readFileSync } from "node:fs";

const scriptsDir = new URL("./scripts/", import.meta.url);

function load(name: string): string {
  return readFileSync(new URL(`${name}.lua`, scriptsDir), "utf8");
}

export const storeScripts = Object.freeze({
  createJob: load("create-job"),
  commitJob: load("commit-job"),
  startAttempt: load("start-attempt"),
  renewLeases: load("renew-leases"),
  releaseLease: load("release-lease"),
  dropExpiredLease: load("drop-expired-lease"),
});
