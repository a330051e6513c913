// Every process the bench starts goes through here: spawned with an IPC channel (requests answered by
// bench/procs/ipc.ts, or by the probe preloaded into servers), optionally with a raised open-files
// limit, output kept for error messages, and all of them killed at the end, on error and on Ctrl-C.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { serviceNodeFlags } from "../shared/runtime/node-flags.ts";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PROBE = fileURLToPath(new URL("./procs/probe.ts", import.meta.url));
const OUTPUT_LIMIT = 64 * 1024;

export interface SpawnOptions {
  readonly env?: Record<string, string>;
  /** Extra node flags (e.g. --expose-gc, --max-old-space-size). */
  readonly nodeArgs?: readonly string[];
  /** Raise the open-files limit of this process to this many (else to the hard limit, where raising
   * the hard limit is not permitted, as in a container without CAP_SYS_RESOURCE). */
  readonly nofile?: number;
  /** Preload bench/procs/probe.ts and expose gc: the `probe` request answers heap and loop delay. */
  readonly probe?: boolean;
}

export interface Probe {
  readonly gc: boolean;
  readonly heapUsedMb: number;
  readonly rssMb: number;
  readonly externalMb: number;
  readonly loopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

const running = new Set<Child>();

export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private out = "";
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    entry: string,
    args: readonly string[],
    o: SpawnOptions,
  ) {
    // Herald's service flags for every process, the bare servers and load generators too: a ratio
    // then measures code, not runtime tuning.
    const node = [
      ...serviceNodeFlags,
      ...(o.probe ? ["--expose-gc"] : []),
      ...(o.nodeArgs ?? []),
      "--import",
      "tsx",
      ...(o.probe ? ["--import", PROBE] : []),
      entry,
      ...args,
    ];
    // Through a shell only to raise the limit: `exec` keeps the pid and the IPC descriptor.
    const [cmd, argv] =
      o.nofile === undefined
        ? [process.execPath, node]
        : [
            "/bin/sh",
            [
              "-c",
              `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
              process.execPath,
              ...node,
            ],
          ];
    this.proc = spawn(cmd, argv, {
      cwd: ROOT,
      env: { ...process.env, ...o.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const keep = (d: Buffer) => {
      this.out = (this.out + d.toString("utf8")).slice(-OUTPUT_LIMIT);
    };
    this.proc.stdout?.on("data", keep);
    this.proc.stderr?.on("data", keep);
    this.proc.on("message", (msg: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      const waiting = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!waiting || msg.id === undefined) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiting.resolve(msg.result);
      else waiting.reject(new Error(`${this.name}: ${msg.error}`));
    });
    this.proc.on("error", () => {}); // reported through `exited`
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        running.delete(this);
        for (const w of this.pending.values())
          w.reject(new Error(`${this.name} exited (${code ?? signal}):\n${this.tail()}`));
        this.pending.clear();
        resolve(code);
      });
    });
    running.add(this);
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  tail(chars = 3000): string {
    return this.out.slice(-chars);
  }

  /** Resolves when the child's `serve()` has said it is ready (bench children only). */
  ready(timeoutMs = 90_000): Promise<void> {
    return this.waitFor((msg) => (msg as { ready?: boolean }).ready === true, timeoutMs, "ready");
  }

  waitFor(test: (msg: unknown) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`${this.name}: not ${what} within ${timeoutMs} ms:\n${this.tail()}`)),
        timeoutMs,
      );
      const onMessage = (msg: unknown) => {
        if (test(msg)) done();
      };
      const onExit = () => done(new Error(`${this.name} exited before ${what}:\n${this.tail()}`));
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.proc.off("message", onMessage);
        this.proc.off("exit", onExit);
        if (err) reject(err);
        else resolve();
      };
      this.proc.on("message", onMessage);
      this.proc.once("exit", onExit);
    });
  }

  request<T>(cmd: string, args?: unknown): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running:\n${this.tail()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Forces a full GC in a probed server and reads its heap, RSS and event-loop delay. */
  probe(): Promise<Probe> {
    return this.request<Probe>("probe");
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => {
      console.error(`bench: ${this.name} still running ${graceMs} ms after SIGTERM: SIGKILL`);
      this.proc.kill("SIGKILL");
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts `entry` (a path from the repository root) under node + tsx. */
export function spawnNode(name: string, entry: string, args: readonly string[] = [], o: SpawnOptions = {}): Child {
  return new Child(name, entry, args, o);
}

/** Ends every child still running (SIGTERM, SIGKILL after `graceMs`). */
export async function stopAll(graceMs = 3_000): Promise<void> {
  await Promise.all([...running].map((c) => c.stop(graceMs)));
}

/** Last resort on process exit: nothing may outlive the bench. */
export function killAllNow(): void {
  for (const c of running) c.proc.kill("SIGKILL");
}
