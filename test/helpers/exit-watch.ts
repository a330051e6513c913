// Watches every process of a fault test and tells crashes from the exits the harness asked for.
// The harness calls told() before it signals a process; any other exit is a crash, and so is an
// exit after SIGTERM that is not clean (non-zero code). Children that restart() replaces are
// picked up by polling each service's current child.
import type { ChildProcess } from "node:child_process";
import type { Exit, ServiceProcess } from "./cluster.ts";
import type { PrivateRedis } from "./private-redis.ts";

export interface Crash {
  id: string;
  pid: number | undefined;
  exit: string;
  /** The end of the process's output. */
  tail: string;
}

export interface ExitWatch {
  readonly crashes: readonly Crash[];
  /** The harness is about to send `signal` to `p`'s current child. */
  told(p: ServiceProcess, signal: NodeJS.Signals): void;
  /** The harness is about to kill Redis (true) / has started it again (false). */
  redisDown(down: boolean): void;
  /** Called with each crashed service (after it is recorded), e.g. to restart it. */
  onCrash(listener: (p: ServiceProcess, crash: Crash) => void): void;
  /** Ends the watch: exits from now on (the harness's teardown) are not crashes. */
  stop(): void;
}

export function watchExits(
  services: () => readonly ServiceProcess[],
  others: { nginx?: ChildProcess; redis?: PrivateRedis },
): ExitWatch {
  const crashes: Crash[] = [];
  const told = new Map<number, NodeJS.Signals>();
  const watched = new Set<number>();
  const listeners: ((p: ServiceProcess, c: Crash) => void)[] = [];
  let stopped = false;
  let redisExpectedDown = false;

  const record = (crash: Crash, p?: ServiceProcess) => {
    crashes.push(crash);
    if (p) for (const l of listeners) l(p, crash);
  };
  const onExit = (p: ServiceProcess, pid: number, exit: Exit) => {
    if (stopped) return;
    const signal = told.get(pid);
    const how = `code ${exit.code}, signal ${exit.signal}`;
    if (signal === undefined) record({ id: p.id, pid, exit: `exited unasked (${how})`, tail: tail(p) }, p);
    else if (signal === "SIGTERM" && exit.code !== 0)
      record({ id: p.id, pid, exit: `unclean exit after SIGTERM (${how})`, tail: tail(p) }, p);
  };
  const poll = () => {
    for (const p of services()) {
      const pid = p.process?.pid;
      if (pid === undefined || watched.has(pid)) continue;
      watched.add(pid);
      void p.exited.then((exit) => onExit(p, pid, exit));
    }
    const redis = others.redis;
    if (redis && !redis.alive && !redisExpectedDown && !stopped) {
      redisExpectedDown = true; // report it once
      record({ id: "redis", pid: undefined, exit: "redis-server exited unasked", tail: redis.output().slice(-2_000) });
    }
  };
  const timer = setInterval(poll, 100);
  poll();
  others.nginx?.once("exit", (code, signal) => {
    if (!stopped) record({ id: "nginx", pid: others.nginx?.pid, exit: `code ${code}, signal ${signal}`, tail: "" });
  });

  return {
    crashes,
    told(p, signal) {
      poll(); // make sure this child is watched before it goes
      if (p.process?.pid !== undefined) told.set(p.process.pid, signal);
    },
    redisDown(down) {
      redisExpectedDown = down;
    },
    onCrash(listener) {
      listeners.push(listener);
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

function tail(p: ServiceProcess, chars = 3_000): string {
  const out = p.output();
  return out.length > chars ? out.slice(-chars) : out;
}
