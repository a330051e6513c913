// A scale-out Herald for end-to-end tests: N API processes and M worker processes, each a real
// `node` child running the compiled API or worker (compiled.ts), with its own INSTANCE_ID, against
// the real local RabbitMQ and Redis under one fresh namespace, behind a private nginx that balances
// them: by default deploy/nginx.conf itself (see shipped-nginx.ts), or the harness's own config
// (nginx.ts). stop() ends every process, nginx, and removes the namespace. Other brokers: `env.AMQP_URL` (a node list too) and
// `redis` (a private Redis, or a Redis Cluster: REDIS_CLUSTER_NODES), for the processes and for the
// harness's own connections alike.
//
//   const cluster = await startCluster({ apis: 2, workers: 1 });
//   const res = await fetch(`${cluster.baseUrl}/healthz`);   // round-robin
//   res.headers.get("x-herald-instance");                     // "api-0" or "api-1"
//   await fetchFrom("127.0.0.3", `${cluster.baseUrl}/socket.io/?EIO=4&transport=polling`); // sticky by address
//   await cluster.apis[0]?.kill("SIGKILL");
//   await cluster.stop();
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { builtinHandlers } from "../../services/worker/jobs/index.ts";
import { parseAmqpUrls } from "../../shared/runtime/amqp-nodes.ts";
import { type Names, names as toNames } from "../../shared/store/names.ts";
import { compiledEntries } from "./compiled.ts";
import { freePort, freePorts } from "./net.ts";
import { type Nginx, type NginxOptions, startNginx } from "./nginx.ts";
import { killOnExit } from "./processes.ts";
import { connectTarget, type RedisTarget, redisEnv, targetOfEnv } from "./redis-target.ts";
import { AMQP_URL, connectFirst, defineJobTypesAt, log, REDIS_URL, randomNamespace, removeNamespace } from "./stack.ts";

export {
  agentFrom,
  type FetchFromInit,
  fetchFrom,
  freePort,
  freePorts,
  isLoopback,
  loopbackClient,
  type PollOptions,
  pollUntil,
} from "./net.ts";
export {
  checkNginxConfig,
  type Nginx,
  type NginxOptions,
  nginxBinary,
  renderNginxConfig,
  startNginx,
} from "./nginx.ts";
export { renderShippedNginxConfig, SHIPPED_NGINX_CONF } from "./shipped-nginx.ts";

/** The repository root (cwd of every child process). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUTPUT_LIMIT = 512 * 1024;

export interface ClusterOptions {
  apis: number;
  /** Worker processes; they announce the bundled job types. With 0, the harness defines those types
   * in the registry itself, so the APIs know them (and queue their jobs). */
  workers: number;
  /** Default: a fresh random `cluster-…` namespace. Removed by stop() either way. */
  namespace?: string;
  /** Extra environment for every process (HOST, PORT, INSTANCE_ID, HERALD_NAMESPACE are the harness's). */
  env?: Record<string, string>;
  /** The Redis of every process and of the harness. Default: `env`'s REDIS_CLUSTER_NODES or
   * REDIS_URL, else the shared Redis. */
  redis?: RedisTarget;
  apiEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** Per process: API /readyz answering 200, workers consuming. Default 60 s: a cold tsx start of
   * several processes at once takes 15-25 s on a loaded 2-core machine (they run compiled JavaScript
   * now, compiled.ts, which halves that; the first cluster of a run may wait for the build too). */
  readyTimeoutMs?: number;
  /** SIGTERM → SIGKILL bound in stop(). Default 5 s. */
  stopGraceMs?: number;
  /** Passed to startNginx (not the upstreams). Default `config: "shipped"`: deploy/nginx.conf itself. */
  nginx?: Omit<NginxOptions, "upstreams">;
  /** Copy every child's output to this process's stderr, prefixed. Default: $HERALD_CLUSTER_ECHO === "1". */
  echo?: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  readonly kind: "api" | "worker";
  /** Also its INSTANCE_ID: `api-<i>` / `worker-<i>`. */
  readonly id: string;
  /** The current child process (a new one after restart()). */
  readonly process: ChildProcess;
  readonly alive: boolean;
  /** Resolves when the current child process exits. */
  readonly exited: Promise<Exit>;
  /** Captured stdout+stderr (the JSON log lines), across restarts, at most the last 512 KB. */
  output(): string;
  /** Sends `signal` (default SIGTERM) and resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves at once if it is not running. */
  stop(graceMs?: number): Promise<Exit | undefined>;
  /** Stops it if running, starts it again (same id, port and env) and waits until it is ready. */
  restart(): Promise<void>;
}

export interface ApiProcess extends ServiceProcess {
  readonly kind: "api";
  readonly port: number;
  /** Direct URL of this instance, bypassing nginx. */
  readonly url: string;
}

export interface WorkerProcess extends ServiceProcess {
  readonly kind: "worker";
}

export interface Cluster {
  /** Through nginx. */
  readonly baseUrl: string;
  readonly namespace: string;
  readonly names: Names;
  /** The Redis (or Redis Cluster) the processes use. */
  readonly redis: RedisTarget;
  readonly apis: readonly ApiProcess[];
  readonly workers: readonly WorkerProcess[];
  readonly nginx: Nginx;
  /** Ends nginx and every process (SIGTERM, then SIGKILL), removes the namespace. Idempotent. */
  stop(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const namespace = opts.namespace ?? randomNamespace("cluster");
  const n = toNames(namespace);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const stopGraceMs = opts.stopGraceMs ?? 5_000;
  const echo = opts.echo ?? process.env.HERALD_CLUSTER_ECHO === "1";
  // The harness's own RabbitMQ connections go where the processes' go (a private cluster's nodes).
  const amqpUrls = parseAmqpUrls(opts.env?.AMQP_URL ?? AMQP_URL);
  const redis = opts.redis ?? targetOfEnv(opts.env ?? {}, REDIS_URL);
  // Exactly one of REDIS_URL and REDIS_CLUSTER_NODES reaches the processes: the target's.
  const withoutRedis = (e: Record<string, string | undefined>) => {
    const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, ...rest } = e;
    return rest;
  };
  const baseEnv = (extra: Record<string, string> | undefined): Record<string, string | undefined> => ({
    ...withoutRedis(process.env),
    AMQP_URL,
    LOG_LEVEL: "info",
    SHUTDOWN_GRACE_MS: "2000",
    CONNECT_TIMEOUT_MS: "10000",
    ...withoutRedis(opts.env ?? {}),
    ...redisEnv(redis),
    ...extra,
    HOST: "127.0.0.1",
    HERALD_NAMESPACE: namespace,
  });

  const apis: Managed[] = [];
  const workers: Managed[] = [];
  let nginx: Nginx | undefined;
  let stopping: Promise<void> | undefined;

  const workersReady = async (deadline: number, starting: readonly Managed[]) => {
    // Those starting count even if already dead: waitForConsumers then reports their output.
    const expected = workers.filter((w) => w.alive || starting.includes(w)).length;
    if (expected === 0) return;
    await waitForConsumers(n, expected, deadline, starting, amqpUrls);
  };

  const stop = () => {
    stopping ??= (async () => {
      const errors: unknown[] = [];
      const attempt = async (what: string, run: () => Promise<unknown>) => {
        try {
          await run();
        } catch (err) {
          errors.push(new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`));
        }
      };
      if (nginx) await attempt("stop nginx", () => (nginx as Nginx).stop());
      await Promise.all([...apis, ...workers].map((p) => attempt(`stop ${p.id}`, () => p.stop(stopGraceMs))));
      await attempt("remove namespace", async () => {
        const client = await connectTarget(redis, log, "cluster-cleanup");
        try {
          await removeNamespace(n, client, amqpUrls);
        } finally {
          await client.close();
        }
      });
      if (errors.length > 0) throw new AggregateError(errors, `cluster stop: ${errors.length} step(s) failed`);
    })();
    return stopping;
  };

  try {
    const [entries, ports] = await Promise.all([compiledEntries(), freePorts(opts.apis)]);
    for (let i = 0; i < opts.apis; i++) {
      const id = `api-${i}`;
      apis.push(
        new Managed(
          "api",
          entries.api,
          id,
          ports[i],
          (port) => ({ ...baseEnv(opts.apiEnv), INSTANCE_ID: id, PORT: String(port) }),
          echo,
          readyTimeoutMs,
          stopGraceMs,
          async (self, deadline) => waitForApi(self, deadline),
        ),
      );
    }
    for (let i = 0; i < opts.workers; i++) {
      const id = `worker-${i}`;
      workers.push(
        new Managed(
          "worker",
          entries.worker,
          id,
          undefined,
          () => ({ ...baseEnv(opts.workerEnv), INSTANCE_ID: id }),
          echo,
          readyTimeoutMs,
          stopGraceMs,
          async (self, deadline) => workersReady(deadline, [self]),
        ),
      );
    }
    if (opts.workers === 0) {
      // No worker announces the bundled types: define them, so the APIs know (and queue) them.
      await defineJobTypesAt(redis, n, builtinHandlers);
    }
    const deadline = Date.now() + readyTimeoutMs;
    for (const p of [...apis, ...workers]) p.spawn();
    await Promise.all(apis.map((a) => a.awaitStart(deadline)));
    if (workers.length > 0) await workersReady(deadline, workers);
    nginx = await startNginx({ config: "shipped", ...opts.nginx, upstreams: apis.map((a) => a.port as number) });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  return {
    baseUrl: nginx.url,
    namespace,
    names: n,
    redis,
    apis: apis as unknown as ApiProcess[],
    workers: workers as unknown as WorkerProcess[],
    nginx,
    stop,
  };
}

type Ready = (self: Managed, deadline: number) => Promise<void>;

class Managed implements ServiceProcess {
  process!: ChildProcess;
  exited!: Promise<Exit>;
  private exitInfo: Exit | undefined;
  private log = "";

  constructor(
    readonly kind: "api" | "worker",
    /** The compiled entry point it runs (compiled.ts). */
    private readonly entry: string,
    readonly id: string,
    public port: number | undefined,
    private readonly env: (port: number | undefined) => Record<string, string | undefined>,
    private readonly echo: boolean,
    private readonly readyTimeoutMs: number,
    private readonly stopGraceMs: number,
    private readonly ready: Ready,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.process !== undefined && this.exitInfo === undefined;
  }

  /** Whether the current child has exited, and how (undefined while running). */
  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  output(): string {
    return this.log;
  }

  tail(chars = 4_000): string {
    return this.log.length > chars ? `…${this.log.slice(-chars)}` : this.log;
  }

  spawn(): void {
    const child = spawn(process.execPath, [this.entry], {
      cwd: ROOT,
      env: this.env(this.port),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    this.exitInfo = undefined;
    this.append(`--- ${this.id} started (pid ${child.pid}${this.port ? `, port ${this.port}` : ""}) ---\n`);
    const onData = (b: Buffer) => this.append(b.toString());
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.exited = new Promise<Exit>((resolve) => {
      child.once("error", (err) => {
        this.append(`spawn error: ${err.message}\n`);
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        this.append(`--- ${this.id} exited (code ${code}, signal ${signal}) ---\n`);
        resolve(this.exitInfo);
      });
    });
    killOnExit(child);
  }

  /** Waits until ready; an API whose port was taken meanwhile gets a new port (first start only). */
  async awaitStart(deadline: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ready(this, deadline);
      } catch (err) {
        const portTaken = this.kind === "api" && this.exitInfo && /EADDRINUSE/.test(this.log);
        if (!portTaken || attempt >= 3) throw err;
        this.port = await freePort();
        this.spawn();
      }
    }
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): Promise<Exit> {
    if (this.alive) this.process.kill(signal);
    return this.exited;
  }

  async stop(graceMs = this.stopGraceMs): Promise<Exit | undefined> {
    if (!this.alive) return this.exitInfo;
    this.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== "timeout") return first;
    this.append(`--- ${this.id} ignored SIGTERM for ${graceMs} ms: SIGKILL ---\n`);
    this.process.kill("SIGKILL");
    return this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    this.spawn();
    await this.ready(this, Date.now() + this.readyTimeoutMs);
  }

  private append(text: string): void {
    if (this.echo) {
      for (const line of text.split("\n")) if (line) process.stderr.write(`[${this.id}] ${line}\n`);
    }
    this.log += text;
    if (this.log.length > OUTPUT_LIMIT) this.log = this.log.slice(-OUTPUT_LIMIT);
  }
}

function failure(p: Managed, why: string): Error {
  return new Error(`${p.id} ${why}; its output:\n${p.tail()}`);
}

async function waitForApi(p: Managed, deadline: number): Promise<void> {
  let last = "no answer yet";
  for (;;) {
    if (p.exit) throw failure(p, `exited before it was ready (code ${p.exit.code}, signal ${p.exit.signal})`);
    try {
      const res = await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      const body = await res.text();
      if (res.status === 200) return;
      last = `${res.status} ${body}`;
    } catch (err) {
      last = err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ""}` : String(err);
    }
    if (Date.now() >= deadline) throw failure(p, `not ready at ${p.url}/readyz in time (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until the jobs queue has `expected` consumers (each worker consumes once it is ready). */
async function waitForConsumers(
  n: Names,
  expected: number,
  deadline: number,
  starting: readonly Managed[],
  amqpUrls: readonly string[],
): Promise<void> {
  const conn = await connectFirst(amqpUrls);
  conn.on("error", () => undefined);
  let last = "queue not declared yet";
  try {
    for (;;) {
      const dead = starting.find((w) => w.exit);
      if (dead)
        throw failure(dead, `exited before it was ready (code ${dead.exit?.code}, signal ${dead.exit?.signal})`);
      // checkQueue on a queue that does not exist yet closes the channel: one channel per probe.
      const ch = await conn.createChannel();
      ch.on("error", () => undefined);
      try {
        const q = await ch.checkQueue(n.jobsQueue);
        if (q.consumerCount >= expected) return;
        last = `${q.consumerCount} consumer(s)`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      } finally {
        await ch.close().catch(() => undefined);
      }
      if (Date.now() >= deadline) {
        const who = starting.map((w) => failure(w, "still running").message).join("\n");
        throw new Error(`workers not consuming ${n.jobsQueue} (want ${expected}; last: ${last}):\n${who}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}
