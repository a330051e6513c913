// `npm start`: one API instance and one worker, as two child processes sharing this terminal.
// The children run in their own process group, so a signal to this group (Ctrl-C, a supervisor)
// reaches them once, forwarded from here. If either child exits, the other is stopped too and
// the first exit code is kept.
import { type ChildProcess, spawn } from "node:child_process";
import { serviceNodeFlags } from "../shared/runtime/node-flags.ts";

const children: ChildProcess[] = ["services/api/main.ts", "services/worker/main.ts"].map((entry) =>
  spawn(process.execPath, [...serviceNodeFlags, "--import", "tsx", entry], { stdio: "inherit", detached: true }),
);

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
// A stop is forwarded once: the same SIGTERM often arrives twice (from the process group and
// from npm), and a second one would make the services skip their graceful shutdown.
let stopSentAt = 0;
const stopChildren = (signal: NodeJS.Signals) => {
  if (Date.now() - stopSentAt < 1_000) return;
  stopSentAt = Date.now();
  for (const child of children) if (running(child)) child.kill(signal);
};

let exitCode: number | null = null;
for (const child of children) {
  child.on("exit", (code, signal) => {
    exitCode ??= code ?? (signal ? 1 : 0);
    if (stopSentAt === 0) stopChildren("SIGTERM"); // one died on its own: take the other down too
    if (!children.some(running)) process.exit(children.every((c) => c.exitCode === 0) ? 0 : (exitCode ?? 1));
  });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => stopChildren(signal));
// If this process dies without a signal handler running (kill -9), take the children with it.
process.on("exit", () => {
  for (const child of children) if (running(child)) child.kill("SIGKILL");
});
