// Redis key inspection for tests: which keys a namespace holds, and which job a key belongs to.
import type { Names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

/** Every key matching `pattern` (SCAN, never KEYS), sorted. */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...batch);
  return keys.sort();
}

/** The glob (SCAN MATCH, PSUBSCRIBE) of a namespace's job keys of every shard, `<ns>:{*}:job:<rest>`
 * (`{` and `}` are literal in a Redis glob). */
export const jobKeyPattern = (namespace: string, rest = "*"): string => `${namespace}:{*}:job:${rest}`;

/** The job records and results of a namespace, over every shard. */
export const jobKeys = (redis: RedisClient, n: Names): Promise<string[]> => scanKeys(redis, jobKeyPattern(n.namespace));

/** The job id of `<ns>:{<tag>}:job:<id><suffix>` (a job's record key when `suffix` is ""), else null. */
export function jobIdOfKey(namespace: string, key: string, suffix = ""): string | null {
  const prefix = `${namespace}:{`;
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return null;
  const close = key.indexOf("}:job:", prefix.length);
  if (close === -1) return null;
  const id = key.slice(close + "}:job:".length, key.length - suffix.length);
  return id.length > 0 && !id.includes(":") ? id : null;
}
