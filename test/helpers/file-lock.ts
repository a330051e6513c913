// A lock between the processes of one test run (mocha --parallel runs test files in several, all
// children of one mocha process): a directory made with mkdir, which only one can create, holding
// its owner's pid. Its name carries the run (`runLock`), so a lock a killed run left behind never
// holds up the next one; within a run, a lock whose owner died is taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

/** How long a lock without an owner's pid (its maker died before writing it) is waited for. */
const UNOWNED_MS = 30_000;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

function owner(dir: string): number | null {
  try {
    return Number(readFileSync(join(dir, "pid"), "utf8")) || null;
  } catch {
    return null;
  }
}

/** The lock `name` of this test run: the workers of one `mocha --parallel` share their parent. */
export const runLock = (name: string): string => `${name}.lock.${process.ppid}`;

/** Runs `work` holding the lock `dir` (waiting for it as long as its holder lives). */
export async function withFileLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = owner(dir);
    const age = (() => {
      try {
        return Date.now() - statSync(dir).mtimeMs;
      } catch {
        return 0; // just released
      }
    })();
    if (pid === null ? age > UNOWNED_MS : !alive(pid)) rmSync(dir, { recursive: true, force: true });
    else await delay(200);
  }
  try {
    writeFileSync(join(dir, "pid"), String(process.pid));
    return await work();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
