// The API and worker as compiled JavaScript, for the processes the tests start: production runs
// `node dist/...` (README, Dockerfile), and a process started that way is ready in about half the
// time of one that compiles its TypeScript through tsx as it loads (0.75 s against 1.5 s here on a
// quiet machine, several seconds under load; the suite starts about a hundred). Built once, with
// scripts/build.ts, under node_modules/.cache (node resolves the dependencies from there, and nothing
// else writes it: `npm pack` rebuilds dist/ meanwhile), and again only when a source is newer. The
// test files run in two processes at once: one builds, the other waits for it (file-lock.ts).
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runLock, withFileLock } from "./file-lock.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const out = join(root, "node_modules", ".cache", "herald-test-dist");
/** What the build reads: a change to any of them makes the build stale. */
const inputs = [
  "services",
  "shared",
  "scripts/cli",
  "scripts/build.ts",
  "tsconfig.json",
  "tsconfig.build.json",
  "package.json",
];

export interface CompiledEntries {
  api: string;
  worker: string;
  /** The `herald` CLI (what bin/herald.mjs runs from an installed package). */
  cli: string;
}

let building: Promise<CompiledEntries> | null = null;

/** The compiled entry points (built now if missing or stale). */
export function compiledEntries(): Promise<CompiledEntries> {
  building ??= withFileLock(runLock(out), build);
  building.catch(() => {
    building = null;
  });
  return building;
}

const readIf = (file: string): string | null => (existsSync(file) ? readFileSync(file, "utf8") : null);

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

async function build(): Promise<CompiledEntries> {
  const entries = {
    api: join(out, "services/api/main.js"),
    worker: join(out, "services/worker/main.js"),
    cli: join(out, "scripts/cli/main.js"),
  };
  // The newest source time the build saw, kept beside it: a later edit makes it stale.
  const sources = String(Math.max(...inputs.map((p) => newestMtime(join(root, p)))));
  const stamp = (dir: string) => join(dir, ".sources-mtime");
  if (Object.values(entries).every((e) => existsSync(e)) && readIf(stamp(out)) === sources) return entries;
  // Built beside, then swapped in: another test run of this checkout may be reading the old one.
  const fresh = `${out}.${process.pid}`;
  rmSync(fresh, { recursive: true, force: true });
  await run(process.execPath, ["--import", "tsx", "scripts/build.ts", "--out", fresh, "--js-only"], { cwd: root });
  writeFileSync(stamp(fresh), sources);
  // Another run of this checkout may have swapped in the same build meanwhile: keep that one.
  if (readIf(stamp(out)) === sources) rmSync(fresh, { recursive: true, force: true });
  else {
    rmSync(out, { recursive: true, force: true });
    renameSync(fresh, out);
  }
  return entries;
}
