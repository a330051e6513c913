// The Python example worker (examples/python-worker) as a real process: spawned in its own process
// group on Debian's python3 (where python3-pika and python3-redis live; PYTHON overrides it), killed
// with the test process, and ready once it consumes and has announced its job type.
import { pollUntil } from "./net.ts";
import { killOnExit, type Spawned, spawnGroup } from "./processes.ts";

export const python = process.env.PYTHON ?? "/usr/bin/python3";

/** Starts the worker with `env` (Herald's variables: HERALD_NAMESPACE, LEASE_MS, …); resolves once it
 * announced `word-count`, rejects with its output if it exits first. */
export async function startPythonWorker(env: Record<string, string>): Promise<Spawned> {
  const p = spawnGroup(python, ["examples/python-worker/worker.py"], env);
  killOnExit(p.child);
  try {
    const state = await pollUntil(
      async () => p.stderr().includes('"job types announced"') || (p.child.exitCode !== null && "exited"),
      { timeoutMs: 30_000, what: "the Python worker to consume and announce word-count" },
    );
    if (state === "exited") throw new Error(`the Python worker exited:\n${p.stderr()}`);
  } catch (err) {
    p.signalGroup("SIGKILL"); // not ready: leave nothing running
    throw err;
  }
  return p;
}
