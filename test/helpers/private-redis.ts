// A private redis-server for fault tests that kill Redis: its own loopback port and temp dir, AOF
// on with fsync on every write (so a SIGKILL loses nothing acknowledged), no RDB snapshots. The
// shared Redis on 6379 is never touched.
//
//   const redis = await startPrivateRedis();
//   redis.url;                       // redis://127.0.0.1:<port>
//   await redis.kill();              // SIGKILL
//   await redis.start();             // same port, same dir: replays the AOF
//   await redis.stop();              // SIGKILL and remove the dir
//   redis.signal("SIGSTOP");         // freeze it (SIGCONT thaws)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, pollUntil } from "./net.ts";
import { killOnExit } from "./processes.ts";

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly alive: boolean;
  /** Output of every run so far. */
  output(): string;
  /** Starts it (again) on the same port and dir; resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGKILL; resolves when it has exited. */
  kill(): Promise<void>;
  /** kill() and remove the dir. */
  stop(): Promise<void>;
  /** Sends a signal to the running server (SIGSTOP freezes it: connections stay open, nothing answers). */
  signal(signal: NodeJS.Signals): void;
}

export async function startPrivateRedis(
  binary = process.env.REDIS_SERVER_BIN ?? "redis-server",
  /** More redis-server options, e.g. `["--auto-aof-rewrite-percentage", "0"]`. */
  extraArgs: readonly string[] = [],
  /** A port chosen by the caller (a cluster node also needs port + 10000 free); default a free one. */
  fixedPort?: number,
): Promise<PrivateRedis> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "herald-redis-"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let alive = false;
  let log = "";

  const start = async () => {
    if (alive) throw new Error("private redis is running already");
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--save",
      "",
      "--daemonize",
      "no",
      ...extraArgs,
    ];
    const c = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    alive = true;
    c.stdout?.on("data", (b: Buffer) => (log += b.toString()));
    c.stderr?.on("data", (b: Buffer) => (log += b.toString()));
    exited = new Promise<void>((resolve) => {
      c.once("exit", () => {
        alive = false;
        resolve();
      });
      c.once("error", (err) => {
        log += `spawn error: ${err.message}\n`;
        alive = false;
        resolve();
      });
    });
    killOnExit(c);
    await pollUntil(
      async () => {
        if (!alive) throw new Error(`redis-server exited:\n${log}`);
        return ping(port);
      },
      { timeoutMs: 10_000, what: `redis-server answering on ${port}` },
    );
  };

  const kill = async () => {
    if (alive) child?.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get alive() {
      return alive;
    },
    output: () => log,
    start,
    kill,
    signal(sig) {
      if (alive) child?.kill(sig);
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True once the server answers PING with PONG (inline command, no client library). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    socket.setTimeout(500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (b) => {
      reply += b.toString();
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.startsWith("+PONG"));
      }
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}
