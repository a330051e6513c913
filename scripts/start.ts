// `npm start`: one API instance and one worker, as two child processes sharing this terminal.
// Signals are passed on; if either child dies, the other is stopped and the exit code kept.
import { type ChildProcess, spawn } from "node:child_process";

const children: ChildProcess[] = ["services/api/main.ts", "services/worker/main.ts"].map((entry) =>
  spawn(process.execPath, ["--import", "tsx", entry], { stdio: "inherit" }),
);

let exitCode: number | null = null;
for (const child of children) {
  child.on("exit", (code, signal) => {
    exitCode ??= code ?? (signal ? 1 : 0);
    for (const other of children) if (other.exitCode === null && other.signalCode === null) other.kill("SIGTERM");
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(exitCode);
  });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal);
  });
}
