// Runs a process's shutdown steps in order on SIGTERM/SIGINT, each in its own try/catch.
// A second signal exits at once.
import type { Logger } from "../observability/log.ts";

export type Step = readonly [name: string, run: () => Promise<unknown> | unknown];

export function runSteps(steps: readonly Step[], log: Logger): Promise<void> {
  return steps.reduce<Promise<void>>(
    (prev, [name, run]) =>
      prev.then(async () => {
        try {
          await run();
        } catch (err) {
          log.warn(`shutdown step "${name}" failed`, { error: String(err) });
        }
      }),
    Promise.resolve(),
  );
}

export function exitOnSignals(steps: () => readonly Step[], log: Logger): void {
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    shuttingDown = true;
    log.info("shutting down", { signal });
    runSteps(steps(), log).then(() => {
      log.info("stopped");
      process.exit(0);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** Startup failed (config or a broker): say why and exit non-zero. */
export function exitOnStartupError(err: unknown, log: Logger): never {
  log.error("startup failed", { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
