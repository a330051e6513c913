// Creates a node-redis client that reconnects by itself and fails fast while disconnected
// (commands are not queued offline, so an HTTP request answers 503 instead of hanging).
import { createClient } from "redis";
import type { Logger } from "../observability/log.ts";
import { backoffDelay } from "../queue/backoff.ts";
import { redactUrl } from "../runtime/config.ts";
import { watchForHangs } from "./redis-hang-watch.ts";
import type { RedisClient } from "./redis-job-store.ts";

/** How long a command may wait for Redis's answer before its connection counts as hung. */
export const redisHangMs = 5_000;

export async function connectRedis(
  url: string,
  log: Logger,
  timeoutMs: number,
  role = "main",
  /** Called each time a lost connection is ready again (the broker reconnects metric). */
  onReconnect?: () => void,
  /** "subscriber": a pub/sub connection, whose few commands keep node-redis's per-command timeout;
   * "commands": the per-command timeout is off, and a hang watch (redis-hang-watch.ts) bounds them. */
  use: "commands" | "subscriber" = "commands",
): Promise<RedisClient> {
  const client: RedisClient = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: (retries) => backoffDelay(retries, 100, 5_000) },
    ...(use === "commands" ? { commandOptions: { timeout: 0 } } : { commandOptions: { timeout: redisHangMs } }),
  });
  let failures = 0;
  // Without an 'error' listener node-redis would crash the process on the first socket error.
  client.on("error", (err: Error) => {
    failures++;
    if (failures === 1 || failures % 20 === 0) {
      log.error("Redis connection error", {
        url: redactUrl(url),
        role,
        error: err.message,
        hint: "start it with `redis-server` (or `docker compose up redis`), or set REDIS_URL",
      });
    }
  });
  let readyBefore = false;
  client.on("ready", () => {
    if (readyBefore) onReconnect?.();
    readyBefore = true;
    if (failures > 0) log.info("Redis connection restored", { role });
    failures = 0;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis at ${redactUrl(url)} unreachable for ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (err) {
    client.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (use === "commands") watchForHangs(client, log, role, redisHangMs);
  return client;
}
