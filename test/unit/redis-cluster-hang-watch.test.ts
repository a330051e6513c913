// shared/store/redis-cluster-hang-watch.ts, its rules on stand-in cluster clients (the real thing, a
// frozen master of a real Redis Cluster, is in test/faults/clusters.test.ts): a master silent past
// the hang time is reported once and probed afresh, so while it stays silent the topology is read
// again every hang time, and once it answers it is reported back; the topology is read only while
// another master answers; an error reply is no silence.
import { expect } from "chai";
import type { Logger } from "../../shared/observability/log.ts";
import type { RedisClusterClient } from "../../shared/store/redis-client.ts";
import { trackClusterClient, watchClusterForHangs } from "../../shared/store/redis-cluster-hang-watch.ts";
import { pollUntil } from "../helpers/net.ts";

const hangMs = 60;
const everyMs = 5;

/** A master whose PINGs are answered, left pending (a frozen node), or refused with an error. */
class StandInNode {
  pings = 0;
  mode: "answer" | "silent" | "error" = "answer";
  constructor(readonly address: string) {}
  readonly client = {
    isReady: true,
    ping: (): Promise<string> => {
      this.pings++;
      if (this.mode === "answer") return Promise.resolve("PONG");
      if (this.mode === "error") return Promise.reject(new Error("BUSY Redis is busy running a script"));
      return new Promise<string>(() => undefined); // never settles
    },
  };
}

/** Two stand-in masters, a and b, behind a stand-in cluster client with a watch running on it. */
function watched(aMode: StandInNode["mode"], bMode: StandInNode["mode"]) {
  const a = new StandInNode("10.0.0.1:6379");
  const b = new StandInNode("10.0.0.2:6379");
  a.mode = aMode;
  b.mode = bMode;
  const rediscovered: string[][] = [];
  const listeners: (() => void)[] = [];
  const client = {
    isOpen: true,
    masters: [a, b],
    _slots: {
      rediscover: (_start: unknown, excluded: Set<string>) => {
        rediscovered.push([...excluded]);
        return Promise.resolve();
      },
    },
    on: (event: string, fn: () => void) => {
      if (event === "disconnect") listeners.push(fn);
    },
  };
  const lines: string[] = [];
  const log = {
    debug: () => undefined,
    info: (msg: string) => lines.push(`info ${msg}`),
    warn: (msg: string) => lines.push(`warn ${msg}`),
    error: (msg: string) => lines.push(`error ${msg}`),
    child: () => log,
  } as unknown as Logger;
  const cluster = client as unknown as RedisClusterClient;
  trackClusterClient(cluster);
  const watch = watchClusterForHangs(cluster, log, "test", hangMs, everyMs);
  return {
    a,
    b,
    rediscovered,
    lines,
    /** Stops the watch and closes the client (untracked again). */
    stop() {
      watch.stop();
      client.isOpen = false;
      for (const fn of listeners) fn();
    },
  };
}

describe("unit: the Redis Cluster hang watch", () => {
  it("a silent master: reported once, probed afresh, the topology read again each hang time without it; back once it answers", async () => {
    const w = watched("answer", "answer");
    const { a, b, rediscovered, lines } = w;
    try {
      await pollUntil(() => b.pings >= 3, { what: "the watch probing both masters" });
      a.mode = "silent";
      await pollUntil(() => rediscovered.length >= 3, { what: "three topology reads while a stays silent" });
      expect(rediscovered.every((excluded) => excluded.length === 1 && excluded[0] === a.address)).to.equal(true);
      expect(lines.filter((l) => l.startsWith("error"))).to.have.length(1); // one report per hang
      const pingsWhileSilent = a.pings;
      a.mode = "answer";
      await pollUntil(() => lines.includes("info Redis Cluster node answers again"), { what: "a reported back" });
      expect(a.pings).to.be.greaterThan(pingsWhileSilent); // it was probed afresh, not given up on
    } finally {
      w.stop();
    }
  });

  it("reads the topology only while another master answers (asking the silent one would wait on it)", async () => {
    const w = watched("silent", "silent");
    const { a, b, rediscovered, lines } = w;
    try {
      // Both reported, and each probed afresh after its report: the watch went round several times.
      await pollUntil(() => lines.filter((l) => l.startsWith("error")).length === 2 && a.pings >= 3 && b.pings >= 3, {
        what: "both masters reported and probed again",
      });
      expect(rediscovered).to.deep.equal([]);
      b.mode = "answer";
      await pollUntil(() => rediscovered.length >= 1, { what: "a topology read once b answers" });
      expect(rediscovered[0]).to.deep.equal([a.address]);
    } finally {
      w.stop();
    }
  });

  it("an error reply (BUSY, LOADING) is an answer of sorts, not a hang: nothing is reported", async () => {
    const w = watched("error", "answer");
    const { a, rediscovered, lines } = w;
    try {
      // Each refused PING is followed by a fresh one; many hang times of them pass.
      await pollUntil(() => a.pings >= 40, { what: "a probed many times" });
      expect(lines).to.deep.equal([]);
      expect(rediscovered).to.deep.equal([]);
    } finally {
      w.stop();
    }
  });
});
