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

function standIn(nodes: StandInNode[]) {
  const rediscovered: string[][] = [];
  const listeners: (() => void)[] = [];
  const client = {
    isOpen: true,
    masters: nodes,
    _slots: {
      rediscover: (_start: unknown, excluded: Set<string>) => {
        rediscovered.push([...excluded]);
        return Promise.resolve();
      },
    },
    on: (event: string, fn: () => void) => {
      if (event === "disconnect") listeners.push(fn);
    },
    close() {
      this.isOpen = false;
      for (const fn of listeners) fn();
    },
  };
  return { client, rediscovered, asCluster: client as unknown as RedisClusterClient };
}

function recordingLog() {
  const lines: string[] = [];
  const log = {
    debug: () => undefined,
    info: (msg: string) => lines.push(`info ${msg}`),
    warn: (msg: string) => lines.push(`warn ${msg}`),
    error: (msg: string) => lines.push(`error ${msg}`),
    child: () => log,
  } as unknown as Logger;
  return { log, lines };
}

describe("unit: the Redis Cluster hang watch", () => {
  it("a silent master: reported once, probed afresh, the topology read again each hang time without it; back once it answers", async () => {
    const a = new StandInNode("10.0.0.1:6379");
    const b = new StandInNode("10.0.0.2:6379");
    const { client, rediscovered, asCluster } = standIn([a, b]);
    const { log, lines } = recordingLog();
    trackClusterClient(asCluster);
    const watch = watchClusterForHangs(asCluster, log, "test", hangMs, everyMs);
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
      watch.stop();
      client.close();
    }
  });

  it("reads the topology only while another master answers (asking the silent one would wait on it)", async () => {
    const a = new StandInNode("10.0.0.1:6379");
    const b = new StandInNode("10.0.0.2:6379");
    a.mode = "silent";
    b.mode = "silent";
    const { client, rediscovered, asCluster } = standIn([a, b]);
    const { log, lines } = recordingLog();
    trackClusterClient(asCluster);
    const watch = watchClusterForHangs(asCluster, log, "test", hangMs, everyMs);
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
      watch.stop();
      client.close();
    }
  });

  it("an error reply (BUSY, LOADING) is an answer of sorts, not a hang: nothing is reported", async () => {
    const a = new StandInNode("10.0.0.1:6379");
    const b = new StandInNode("10.0.0.2:6379");
    a.mode = "error";
    const { client, rediscovered, asCluster } = standIn([a, b]);
    const { log, lines } = recordingLog();
    trackClusterClient(asCluster);
    const watch = watchClusterForHangs(asCluster, log, "test", hangMs, everyMs);
    try {
      // Each refused PING is followed by a fresh one; many hang times of them pass.
      await pollUntil(() => a.pings >= 40, { what: "a probed many times" });
      expect(lines).to.deep.equal([]);
      expect(rediscovered).to.deep.equal([]);
    } finally {
      watch.stop();
      client.close();
    }
  });
});
