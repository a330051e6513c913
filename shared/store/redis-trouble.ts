// When this process last saw its Redis connection fail or come back. A lease that lapsed while Redis
// was unreachable proves nothing about its holder: the holder could not renew it either. Whoever
// judges a lease (worker/begin-attempt.ts) waits a grace past the last trouble before it takes a
// job over, so a live holder has the time to renew once its own Redis connection is back.
import { onConnectionChanges, type RedisClient } from "./redis-client.ts";

/** How long after Redis trouble a lapsed lease still counts as held, at least (a longer LEASE_MS
 * wins). Processes see a failover end at different times: each Redis Cluster client finds the
 * promoted master on its own (node-redis refreshes its slot map 5 s into a node's reconnects, and
 * again if the node it asked had not seen the failover yet); 5-10 s apart here under load. */
export const troubleGraceMs = 10_000;

/** The most Redis trouble extends a lapsed lease, counted from its expiry: trouble that never ends
 * (a node the client keeps failing to reach) must not keep a dead worker's job from being taken over. */
export const troubleCapMs = 60_000;

export class RedisTrouble {
  private last = 0;
  private readonly stopWatching: () => void;

  constructor(client: RedisClient, now: () => number = Date.now) {
    // A failing connection reports on every reconnect attempt, so `last` moves along while it is down.
    const mark = () => {
      this.last = now();
    };
    this.stopWatching = onConnectionChanges(client, { lost: mark, restored: mark });
  }

  /** When a connection last failed or came back (ms since the epoch); 0: never. */
  get lastAt(): number {
    return this.last;
  }

  close(): void {
    this.stopWatching();
  }
}
