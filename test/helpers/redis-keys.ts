// Redis key inspection for tests: which keys a namespace holds.
import type { Names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

/** Every key matching `pattern` (SCAN, never KEYS), sorted. */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...batch);
  return keys.sort();
}

/** The job records and results of a namespace: `${namespace}:job:*`. */
export const jobKeys = (redis: RedisClient, n: Names): Promise<string[]> => scanKeys(redis, `${n.namespace}:job:*`);
