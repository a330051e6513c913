// Issue 8 (Redis Cluster): every Lua script and MULTI must touch one hash slot. The job store is
// driven against a recording stand-in for a Redis client, and the keys of each script call, MULTI and
// MGET it sends are checked to hash (CRC16, test/helpers/key-slot.ts) to one slot; the shard tags of
// shared/store/scripts/shards.json are checked to spread the 16 shards evenly over the slots.
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { jobRecords } from "../../shared/store/sharded-reads.ts";
import { shardCount, shardOf, shardTags } from "../../shared/store/shards.ts";
import { crc16, keySlot, slotCount } from "../helpers/key-slot.ts";

/** One command (or MULTI) the store sent, with the keys it names. */
interface Sent {
  command: string;
  keys: string[];
}

/** A Redis client that records what it is asked and answers as an empty Redis would. */
function recordingClient(): { redis: RedisClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const keysOf = (command: string, args: unknown[]): string[] => {
    if (command === "evalSha" || command === "eval") return (args[1] as { keys: string[] }).keys;
    const first = args[0];
    return Array.isArray(first) ? (first as string[]) : typeof first === "string" ? [first] : [];
  };
  const answer = (command: string, args: unknown[]): unknown => {
    if (command === "evalSha") {
      const keys = (args[1] as { keys: string[] }).keys;
      const argc = (args[1] as { arguments: unknown[] }).arguments.length;
      if (keys.length === 4 && argc === 5) return ["missing"]; // start-attempt
      return keys.length === 6 ? "committed" : keys.length === 4 ? 1 : keys.length === 2 ? 1 : [];
    }
    if (command === "mGet") return (args[0] as string[]).map(() => null);
    if (command.endsWith("WithScores") || command.startsWith("zRange")) return [];
    return null;
  };
  const multi = () => {
    const group: Sent = { command: "multi", keys: [] };
    const chain: object = new Proxy(
      {},
      {
        get: (_, prop: string) => {
          if (prop === "exec")
            return async () => {
              sent.push(group);
              return [];
            };
          return (...args: unknown[]) => {
            group.keys.push(...keysOf(prop, args));
            return chain;
          };
        },
      },
    );
    return chain;
  };
  const redis = new Proxy(
    {},
    {
      get: (_, prop: string) => {
        if (prop === "isReady") return true;
        if (prop === "multi") return multi;
        return async (...args: unknown[]) => {
          sent.push({ command: prop, keys: keysOf(prop, args) });
          return answer(prop, args);
        };
      },
    },
  ) as RedisClient;
  return { redis, sent };
}

const slotsOf = (keys: readonly string[]) => new Set(keys.map(keySlot));

describe("unit: Redis key slots (issue 8, Redis Cluster)", () => {
  const n = names("herald");

  it("the CRC16 of the test helper is Redis Cluster's (known slots, hash tags)", () => {
    expect(crc16(Buffer.from("123456789"))).to.equal(0x31c3); // CRC16/XMODEM check value
    expect(keySlot("foo")).to.equal(12182);
    expect(keySlot("somekey")).to.equal(11058);
    expect(keySlot("{user1000}.following")).to.equal(keySlot("{user1000}.followers"));
    expect(keySlot("foo{}{bar}")).to.equal(crc16(Buffer.from("foo{}{bar}")) % slotCount);
    expect(keySlot("foo{{bar}}zap")).to.equal(keySlot("{bar"));
  });

  it(`${shardCount} shards; shard k's tag hashes into slots [k·1024, (k+1)·1024)`, () => {
    expect(shardCount).to.equal(16);
    expect(new Set(shardTags).size).to.equal(shardCount);
    const width = slotCount / shardCount;
    shardTags.forEach((tag, k) => {
      const slot = keySlot(`{${tag}}`);
      expect(slot, `shard ${k}, tag ${tag}`).to.be.within(k * width, (k + 1) * width - 1);
    });
  });

  it("a job's shard is zlib's CRC-32 of its id mod 16, and job ids reach every shard", () => {
    expect(shardOf("abc")).to.equal(891568578 % 16); // zlib.crc32(b"abc") in Python
    const shards = new Set(Array.from({ length: 500 }, () => shardOf(randomUUID())));
    expect(shards.size).to.equal(shardCount);
  });

  it("every script call, MULTI and MGET of the job store names keys of one slot", async () => {
    const { redis, sent } = recordingClient();
    const store = new RedisJobStore(redis, n, 600);
    for (let i = 0; i < 40; i++) {
      const { record } = newJob("demo");
      const id = record.id;
      await store.create(record, { payload: { x: 1 } });
      await store.get(id);
      await store.startAttempt(id, "a", record.createdAt, 1_000);
      await store.commit({ ...record, version: 2, status: "running" }, { leaseExpiredBefore: 1, payload: {} });
      await store.commit({ ...record, version: 3, status: "succeeded" }, { result: "{}" });
      await store.getResult(id);
      await store.getPayload(id);
      await store.delete(id);
      await store.resetQueued(id, 5);
      await store.holdLease(id, 1_000);
      await store.releaseLease(id, "a");
      await store.dropExpiredLease(id, 5);
      await store.getWithLease(id);
      await store.leaseExpiresAt(id);
      expect(keySlot(n.jobEventsChannel(id)), "the events channel (the room carries the tag)").to.equal(
        keySlot(n.jobKey(id)),
      );
      expect(keySlot(n.controlChannel(n.shardOf(id))), "the control channel of its shard").to.equal(
        keySlot(n.jobKey(id)),
      );
    }
    const ids = Array.from({ length: 100 }, () => randomUUID());
    const beforeRenewal = sent.length;
    await store.renewLeases(
      ids.map((id) => ({ id, attemptId: "a" })),
      1_000,
    );
    const renewals = sent.slice(beforeRenewal);
    await jobRecords(redis, n, ids);
    await store.overdueQueued(5, 10);
    await store.expiredLeases(5, 10);
    expect(sent.length).to.be.greaterThan(40 * 14);
    for (const s of sent) expect(slotsOf(s.keys).size, `${s.command} ${s.keys.join(" ")}`).to.equal(1);
    expect(renewals.length, "renew-leases once per shard").to.equal(new Set(ids.map(shardOf)).size);
  });

  it("the job-type registry's keys and channel share one slot", () => {
    const keys = [n.jobTypesKey, n.jobTypeWorkersKey("a"), n.jobTypeWorkersKey("report:v2"), n.jobTypesChangedChannel];
    expect(slotsOf(keys).size).to.equal(1);
    expect(keySlot(names("other").jobTypesKey), "namespaces apart").to.not.equal(keySlot(n.jobTypesKey));
  });
});
