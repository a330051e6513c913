// `npm pack` of this checkout, once per test run (it builds dist/ first, prepack): the tarball a
// user installs. Tests that install it into a temporary application share it.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { runLock, withFileLock } from "./file-lock.ts";
import { repoRoot } from "./processes.ts";

const run = promisify(execFile);

export const npm = (args: string[], cwd: string) => run("npm", args, { cwd, maxBuffer: 64 * 1024 * 1024 });

export interface Packed {
  /** The tarball's absolute path. */
  tarball: string;
  /** The files in it, relative to the package root. */
  files: string[];
  /** How long `npm pack` (with the build) took, in seconds. */
  seconds: number;
  /** Packed by the run's other test process, not this one. */
  reused?: boolean;
}

let packing: Promise<Packed> | null = null;

const cache = join(repoRoot, "node_modules", ".cache");
/** The last pack: the test run it belongs to, and its tarball. */
const lastPack = join(cache, "herald-pack.json");

/** One pack per test run, shared by the run's test processes (mocha --parallel runs files in two,
 * children of the one mocha process): two `npm pack`s at once would both rebuild dist/. */
export function packOnce(): Promise<Packed> {
  packing ??= withFileLock(runLock(join(cache, "herald-pack")), async () => {
    const run = String(process.ppid);
    try {
      const last = JSON.parse(readFileSync(lastPack, "utf8")) as { run: string; packed: Packed };
      if (last.run === run && existsSync(last.packed.tarball)) return { ...last.packed, reused: true };
    } catch {
      // none yet, or unreadable: pack
    }
    const packed = await pack();
    writeFileSync(lastPack, JSON.stringify({ run, packed }));
    return packed;
  });
  return packing;
}

async function pack(): Promise<Packed> {
  const dir = mkdtempSync(join(tmpdir(), "herald-pack-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const began = Date.now();
  const { stdout } = await npm(["pack", "--json", "--pack-destination", dir], repoRoot);
  // npm prints the JSON last, after whatever the prepack build printed.
  const [info] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack printed no package: ${stdout}`);
  return {
    tarball: join(dir, info.filename),
    files: info.files.map((f) => f.path),
    seconds: (Date.now() - began) / 1000,
  };
}

/** `npm install` in `cwd`, from the local cache where it can. */
export const npmInstall = (cwd: string) =>
  npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], cwd);

/**
 * Starts `work` at once and returns its promise, for a test file to call while mocha loads it: in a
 * serial run (mocha loads every file first) the build, pack and installs then run beside the files
 * before it (they are child processes), and its before hook only awaits what is left; `npm test`'s
 * parallel workers load a file just before they run it. A failure surfaces in the hook, not as an
 * unhandled rejection.
 */
export function startEarly<T>(work: () => Promise<T>): Promise<T> {
  const started = work();
  started.catch(() => {});
  return started;
}
