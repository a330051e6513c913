// Reads of many jobs' records at once. A job's keys live in its shard's slot (names.ts), and Redis
// Cluster refuses an MGET over several slots: one MGET per shard, all sent together (one round trip
// on one connection; on a cluster, each to its node).
import type { Names } from "./names.ts";
import type { RedisClient } from "./redis-job-store.ts";

/** The raw records (JSON) of `ids`, in their order; null where a job is gone. */
export async function jobRecords(redis: RedisClient, names: Names, ids: readonly string[]): Promise<(string | null)[]> {
  const byShard = new Map<number, number[]>(); // shard -> indexes into ids
  ids.forEach((id, i) => {
    const shard = names.shardOf(id);
    const mine = byShard.get(shard);
    if (mine) mine.push(i);
    else byShard.set(shard, [i]);
  });
  const out: (string | null)[] = ids.map(() => null);
  await Promise.all(
    [...byShard.values()].map(async (indexes) => {
      const raw = await redis.mGet(indexes.map((i) => names.jobKey(ids[i] ?? "")));
      indexes.forEach((at, j) => {
        out[at] = raw[j] ?? null;
      });
    }),
  );
  return out;
}
