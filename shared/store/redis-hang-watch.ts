// Bounds how long a command can wait on a Redis that stopped answering (a hung or frozen server, a
// path that drops packets without closing): one PING a second per connection; when one stays
// unanswered for `hangMs`, the connection is dropped, which rejects every pending command (callers
// answer 503 / retry), and opened again. node-redis's own per-command timeout does the same per
// command, but costs about 15 µs each (a timer, a finaliser and a DOMException per command: two
// thirds of a GET's client CPU, measured), so command connections switch it off for this.
import type { Logger } from "../observability/log.ts";
import type { RedisSingleClient } from "./redis-client.ts";

export interface HangWatch {
  stop(): void;
}

export function watchForHangs(
  client: RedisSingleClient,
  log: Logger,
  role: string,
  hangMs: number,
  probeEveryMs = 1_000,
): HangWatch {
  let probeSentAt = 0; // 0: no PING outstanding
  let restarting = false;
  const probe = () => {
    // A subscribed connection runs no commands a caller waits on (and may not send PING in RESP2).
    if (!client.isReady || client.isPubSubActive) {
      probeSentAt = 0;
      return;
    }
    if (probeSentAt === 0) {
      const sentAt = Date.now();
      probeSentAt = sentAt;
      const answered = () => {
        if (probeSentAt === sentAt) probeSentAt = 0;
      };
      client.ping().then(answered, answered);
      return;
    }
    const waited = Date.now() - probeSentAt;
    if (waited < hangMs) return;
    probeSentAt = 0;
    log.error("Redis stopped answering; dropping the connection and reconnecting", { role, waitedMs: waited });
    restarting = true;
    client.destroy(); // rejects the pending commands
    restarting = false;
    client.connect().catch((err: unknown) => log.error("Redis reconnect failed", { role, error: String(err) }));
  };
  const timer = setInterval(probe, probeEveryMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  // The owner closed the client: nothing to watch any more.
  client.on("end", () => {
    if (!restarting) stop();
  });
  return { stop };
}
