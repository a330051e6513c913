// One config object for every process: defaults, environment, fail fast.
// Every variable is documented in README.md#configuration; keep the two in step.
import { hostname } from "node:os";
import { z } from "zod";
import { defaultQueueType, parseAmqpUrls, type QueueType } from "./amqp-nodes.ts";
import { parseRedisClusterNodes, type RedisEndpoint } from "./redis-nodes.ts";

// Whole numbers written as decimal digits only: "", " ", "0x50" and "1e3" are errors, not 0 or 80.
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*\d+\s*$/, "expected a whole number")
    .transform(Number)
    .pipe(z.int().min(min).max(max));

const schema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: int(0, 65535).default(3000),
  AMQP_URL: z.string().default("amqp://guest:guest@127.0.0.1:5672"),
  QUEUE_TYPE: z.enum(["quorum", "classic"]).optional(),
  QUEUE_DELIVERY_LIMIT: int(1, 10_000).default(50),
  REDIS_URL: z.string().startsWith("redis").default("redis://127.0.0.1:6379"),
  REDIS_CLUSTER_NODES: z.string().optional(),
  HERALD_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/i, "letters, digits, . _ - (max 64)")
    .default("herald"),
  INSTANCE_ID: z.string().min(1).max(100).optional(),
  BODY_LIMIT_BYTES: int(1, 64 * 1024 * 1024).default(1024 * 1024),
  RESULT_LIMIT_BYTES: int(1, 64 * 1024 * 1024).default(1024 * 1024),
  JOB_TTL_SECONDS: int(1, 365 * 24 * 3600).default(24 * 3600),
  WORKER_PREFETCH: int(1, 1000).default(4),
  WORKER_METRICS_PORT: int(1, 65535).optional(),
  CONNECT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  PUBLISH_TIMEOUT_MS: int(1, 600_000).default(5_000),
  RETRY_AFTER_SECONDS: int(1, 3600).default(1),
  RETRY_AFTER_MAX_SECONDS: int(1, 3600).default(30),
  LEASE_MS: int(300, 3_600_000).default(30_000),
  STALL_TIMEOUT_MS: int(100, 24 * 3_600_000).default(5 * 60_000),
  QUEUE_WATCHDOG_MS: int(1_000, 7 * 24 * 3_600_000).default(10 * 60_000),
  SHUTDOWN_GRACE_MS: int(0, 3_600_000).default(10_000),
  JOB_TYPE_TTL_MS: int(300, 24 * 3_600_000).default(30_000),
  JOB_TYPE_CACHE_MS: int(0, 600_000).default(1_000),
  JOB_TYPE_WITHOUT_WORKER: z.enum(["accept", "reject"]).default("accept"),
  CORS_ORIGINS: z.string().default(""),
  RESOURCE_ORIGINS: z.string().default(""),
  LONG_POLL_MAX_SECONDS: int(0, 3600).default(60),
  SSE_HEARTBEAT_MS: int(100, 600_000).default(15_000),
  SOCKET_MAX_JOBS: int(1, 100_000).default(100),
  SOCKET_MAX_BUFFER_BYTES: int(1024, 64 * 1024 * 1024).default(16 * 1024),
  API_KEYS: z.string().default(""),
  JWT_SECRET: z.string().min(32, "at least 32 characters").optional(),
  JWT_JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  JWT_ALGORITHMS: z.string().optional(),
  IDEMPOTENCY_TTL_SECONDS: int(1, 30 * 24 * 3600).default(24 * 3600),
  HERALD_SECRET: z.string().min(32, "at least 32 characters").optional(),
  MAX_QUEUE_DEPTH: int(0, 100_000_000).default(10_000),
  RATE_LIMIT_SUBMIT_PER_MINUTE: int(0, 10_000_000).default(600),
  RATE_LIMIT_READ_PER_MINUTE: int(0, 10_000_000).default(6_000),
  MAX_JOBS_IN_FLIGHT: int(0, 10_000_000).default(1_000),
  SOCKET_EVENTS_PER_SECOND: int(1, 100_000).default(20),
  TRUST_PROXY: z.enum(["true", "false"]).default("false"),
  TRUST_PROXY_HOPS: int(1, 100).optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  HERALD_URL: z
    .string()
    .regex(/^https?:\/\/[^/]/, "an http(s) URL")
    .default("http://127.0.0.1:3000"),
  HERALD_API_KEY: z.string().optional(),
  ADMIN_TOKEN: z.string().min(32, "at least 32 characters").optional(),
  METRICS_TOKEN: z.string().min(32, "at least 32 characters").optional(),
});

export type Env = z.input<typeof schema>;

export interface Config {
  readonly host: string;
  readonly port: number;
  /** RabbitMQ nodes (AMQP_URL, comma-separated), tried in this order; see amqp-nodes.ts. */
  readonly amqpUrls: readonly string[];
  /** Type of every queue Herald declares: quorum (replicated, for a cluster) or classic. */
  readonly queueType: QueueType;
  /** Quorum queues: deliveries of one message before it is dead-lettered (x-delivery-limit). */
  readonly queueDeliveryLimit: number;
  /** REDIS_URL (the one server; unused when `redis` is a cluster). */
  readonly redisUrl: string;
  /** Where every Redis client connects: REDIS_CLUSTER_NODES when set (a Redis Cluster), else REDIS_URL.
   * Hand it to connectRedis (shared/store/redis-connect.ts); nothing else needs to know which it is. */
  readonly redis: RedisEndpoint;
  /** Prefix of every Redis key, channel, exchange and queue: lets tests and tenants share brokers. */
  readonly namespace: string;
  readonly instanceId: string;
  readonly bodyLimitBytes: number;
  readonly resultLimitBytes: number;
  readonly jobTtlSeconds: number;
  readonly workerPrefetch: number;
  /** Port of the worker's Prometheus /metrics server (on HOST); null = no server. */
  readonly workerMetricsPort: number | null;
  readonly connectTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly retryAfterSeconds: number;
  readonly retryAfterMaxSeconds: number;
  readonly shutdownGraceMs: number;
  /** A running job's lease; its worker renews it every third. */
  readonly leaseMs: number;
  /** A running job whose lease expired this long ago ends `failed` (worker-lost). */
  readonly stallTimeoutMs: number;
  /** A queued job overdue this long has its message published again (a lost message). */
  readonly queueWatchdogMs: number;
  /** A worker's announcement of its job types holds this long; it refreshes it every third. */
  readonly jobTypeTtlMs: number;
  /** How long the API uses a job type it read from the registry before reading it again (a change
   * message drops it sooner). 0 = read on every submission. */
  readonly jobTypeCacheMs: number;
  /** A submission of a known type that no live worker serves: queued with a `Herald-Warning`
   * header (`accept`), or refused 422 `no-worker-for-type` (`reject`). */
  readonly jobTypeWithoutWorker: "accept" | "reject";
  /** Origins allowed besides the API's own (browsers' CORS and Socket.IO's Origin check); "*" allows any. */
  readonly corsOrigins: readonly string[];
  /** Origins (besides this API's own paths) a handler's resource(uri) may send clients to. */
  readonly resourceOrigins: readonly string[];
  /** Upper bound of `Prefer: wait=N` on POST and GET. */
  readonly longPollMaxSeconds: number;
  readonly sseHeartbeatMs: number;
  /** How many jobs one socket may subscribe to at once. */
  readonly socketMaxJobs: number;
  /** Socket.IO's maxHttpBufferSize: the largest message a client may send. */
  readonly socketMaxBufferBytes: number;
  /** `subject:key` pairs that may submit; each subject reads its own jobs with its key. */
  readonly apiKeys: ReadonlyMap<string, string>;
  readonly jwt: {
    secret?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    /** Accepted `alg`s (HMAC ones with a secret, public-key ones with a JWKS); empty without either. */
    algorithms: readonly string[];
  };
  readonly idempotencyTtlSeconds: number;
  /** Server secret (the same on every API instance) for the HMACs and seals of Idempotency-Key records. */
  readonly heraldSecret?: string;
  /** POST answers 503 while the jobs queue holds this many messages or more; 0 = no bound. */
  readonly maxQueueDepth: number;
  /** Per client (credential subject, else IP) and minute; 0 = no limit. */
  readonly rateLimitSubmitPerMinute: number;
  readonly rateLimitReadPerMinute: number;
  /** Unfinished jobs one client may have; 0 = no limit. */
  readonly maxJobsInFlight: number;
  readonly socketEventsPerSecond: number;
  /** Proxies in front of the API (0 unless TRUST_PROXY=true): the client is the X-Forwarded-For entry
   * this many from the right, the one the outermost trusted proxy wrote. */
  readonly trustProxyHops: number;
  readonly logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** The `herald` CLI: the API it talks to (`--url` wins). */
  readonly heraldUrl: string;
  /** The `herald` CLI: its credential (X-API-Key) for an API that needs one to submit. */
  readonly heraldApiKey?: string;
  /** The operator page's credential (`/admin`, Bearer); unset = no operator page. */
  readonly adminToken?: string;
  /** /metrics (API and worker) needs `Authorization: Bearer <it>`; unset = open. */
  readonly metricsToken?: string;
  /** Settings that are valid but probably not what was meant; each process logs them at start. */
  readonly warnings: readonly string[];
}

export class ConfigError extends TypeError {}

/** Reads the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, so `PORT=` in a compose file means "default".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  if (e.RETRY_AFTER_MAX_SECONDS < e.RETRY_AFTER_SECONDS) {
    throw new ConfigError("invalid configuration: RETRY_AFTER_MAX_SECONDS is below RETRY_AFTER_SECONDS");
  }
  if (e.TRUST_PROXY_HOPS !== undefined && e.TRUST_PROXY !== "true") {
    throw new ConfigError("invalid configuration: TRUST_PROXY_HOPS needs TRUST_PROXY=true");
  }
  let amqpUrls: readonly string[];
  try {
    amqpUrls = parseAmqpUrls(e.AMQP_URL);
  } catch (err) {
    throw new ConfigError(`invalid configuration: AMQP_URL: ${(err as Error).message}`);
  }
  const warnings: string[] = [];
  let redis: RedisEndpoint = { mode: "single", url: e.REDIS_URL };
  if (e.REDIS_CLUSTER_NODES !== undefined) {
    // Not an error (a base environment may carry REDIS_URL), but the operator should know which wins.
    if (present.REDIS_URL !== undefined)
      warnings.push("REDIS_URL is ignored: REDIS_CLUSTER_NODES is set, so every Redis use goes to the cluster");
    try {
      redis = { mode: "cluster", nodes: parseRedisClusterNodes(e.REDIS_CLUSTER_NODES) };
    } catch (err) {
      throw new ConfigError(`invalid configuration: REDIS_CLUSTER_NODES: ${(err as Error).message}`);
    }
  }
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    amqpUrls,
    queueType: e.QUEUE_TYPE ?? defaultQueueType(amqpUrls),
    queueDeliveryLimit: e.QUEUE_DELIVERY_LIMIT,
    redisUrl: e.REDIS_URL,
    redis: Object.freeze(redis),
    warnings: Object.freeze(warnings),
    namespace: e.HERALD_NAMESPACE,
    instanceId: e.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    resultLimitBytes: e.RESULT_LIMIT_BYTES,
    jobTtlSeconds: e.JOB_TTL_SECONDS,
    workerPrefetch: e.WORKER_PREFETCH,
    workerMetricsPort: e.WORKER_METRICS_PORT ?? null,
    connectTimeoutMs: e.CONNECT_TIMEOUT_MS,
    publishTimeoutMs: e.PUBLISH_TIMEOUT_MS,
    retryAfterSeconds: e.RETRY_AFTER_SECONDS,
    retryAfterMaxSeconds: e.RETRY_AFTER_MAX_SECONDS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    leaseMs: e.LEASE_MS,
    stallTimeoutMs: e.STALL_TIMEOUT_MS,
    queueWatchdogMs: e.QUEUE_WATCHDOG_MS,
    jobTypeTtlMs: e.JOB_TYPE_TTL_MS,
    jobTypeCacheMs: e.JOB_TYPE_CACHE_MS,
    jobTypeWithoutWorker: e.JOB_TYPE_WITHOUT_WORKER,
    corsOrigins: Object.freeze(
      e.CORS_ORIGINS.split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
    resourceOrigins: parseOrigins("RESOURCE_ORIGINS", e.RESOURCE_ORIGINS),
    longPollMaxSeconds: e.LONG_POLL_MAX_SECONDS,
    sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    socketMaxJobs: e.SOCKET_MAX_JOBS,
    socketMaxBufferBytes: e.SOCKET_MAX_BUFFER_BYTES,
    apiKeys: parseApiKeys(e.API_KEYS),
    jwt: Object.freeze({
      ...(e.JWT_SECRET ? { secret: e.JWT_SECRET } : {}),
      ...(e.JWT_JWKS_URL ? { jwksUrl: e.JWT_JWKS_URL } : {}),
      ...(e.JWT_ISSUER ? { issuer: e.JWT_ISSUER } : {}),
      ...(e.JWT_AUDIENCE ? { audience: e.JWT_AUDIENCE } : {}),
      algorithms: parseJwtAlgorithms(e.JWT_ALGORITHMS, e.JWT_SECRET ? "secret" : e.JWT_JWKS_URL ? "jwks" : null),
    }),
    idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS,
    ...(e.HERALD_SECRET ? { heraldSecret: e.HERALD_SECRET } : {}),
    maxQueueDepth: e.MAX_QUEUE_DEPTH,
    rateLimitSubmitPerMinute: e.RATE_LIMIT_SUBMIT_PER_MINUTE,
    rateLimitReadPerMinute: e.RATE_LIMIT_READ_PER_MINUTE,
    maxJobsInFlight: e.MAX_JOBS_IN_FLIGHT,
    socketEventsPerSecond: e.SOCKET_EVENTS_PER_SECOND,
    trustProxyHops: e.TRUST_PROXY === "true" ? (e.TRUST_PROXY_HOPS ?? 1) : 0,
    logLevel: e.LOG_LEVEL,
    heraldUrl: e.HERALD_URL,
    ...(e.HERALD_API_KEY ? { heraldApiKey: e.HERALD_API_KEY } : {}),
    ...(e.ADMIN_TOKEN ? { adminToken: e.ADMIN_TOKEN } : {}),
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
  });
}

/** `API_KEYS="alice:k3y...,bob:an0ther..."` → key → subject. */
function parseApiKeys(raw: string): ReadonlyMap<string, string> {
  const map = new Map<string, string>();
  for (const entry of raw
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(":");
    const subject = entry.slice(0, colon);
    const key = entry.slice(colon + 1);
    if (colon < 1 || key.length < 16 || !/^[\w.@-]{1,100}$/.test(subject)) {
      throw new ConfigError("invalid configuration: API_KEYS entries are subject:key, keys of 16+ characters");
    }
    map.set(key, subject);
  }
  return map;
}

/** `"https://a.example,http://b.example:8080"` → normalised origins; anything else is an error. */
function parseOrigins(name: string, raw: string): readonly string[] {
  const origins = raw
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean)
    .map((o) => {
      let url: URL | null = null;
      try {
        url = new URL(o);
      } catch {}
      // Only scheme, host and port: a path, query or credentials would be ignored, so refuse them.
      if (!url || !/^https?:$/.test(url.protocol) || url.href !== `${url.origin}/`)
        throw new ConfigError(`invalid configuration: ${name} entries are http(s) origins, got "${o}"`);
      return url.origin;
    });
  return Object.freeze(origins);
}

const jwtAlgorithms = {
  secret: { allowed: ["HS256", "HS384", "HS512"], default: ["HS256"], by: "JWT_SECRET" },
  jwks: {
    allowed: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"],
    default: ["RS256", "ES256"],
    by: "JWT_JWKS_URL",
  },
} as const;

/** `JWT_ALGORITHMS="RS256,ES256"` → the `alg`s a JWT may use: only HMAC ones with JWT_SECRET, only
 * public-key ones with JWT_JWKS_URL (never a mix, so no key can be used as the other kind). */
function parseJwtAlgorithms(raw: string | undefined, source: keyof typeof jwtAlgorithms | null): readonly string[] {
  if (source === null) {
    if (raw) throw new ConfigError("invalid configuration: JWT_ALGORITHMS needs JWT_SECRET or JWT_JWKS_URL");
    return Object.freeze([]);
  }
  const { allowed, by } = jwtAlgorithms[source];
  const list = raw
    ? raw
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean)
    : [...jwtAlgorithms[source].default];
  const wrong = list.filter((a) => !(allowed as readonly string[]).includes(a));
  if (list.length === 0 || wrong.length > 0) {
    throw new ConfigError(
      `invalid configuration: JWT_ALGORITHMS with ${by} takes ${allowed.join(", ")}; got "${raw ?? ""}"`,
    );
  }
  return Object.freeze(list);
}

/** Hides the password in a broker URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}
