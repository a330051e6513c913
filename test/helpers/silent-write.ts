// A job change whose notification was lost: the record in Redis moves on (version + 1, as a commit
// would write it) but nothing is published on its events channel (sockets, SSE, long polls). Redis
// pub/sub is at-most-once, so this happens for real (a subscriber reconnecting at that moment);
// the channels' periodic re-reads (SSE heartbeat, the client's resubscribe) must repair it.

import { JobRecord } from "../../shared/jobs/schemas.ts";
import type { Names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

export async function writeWithoutNotice(
  redis: RedisClient,
  n: Names,
  id: string,
  change: (current: JobRecord) => Partial<JobRecord>,
): Promise<JobRecord> {
  const key = n.jobKey(id);
  const raw = await redis.get(key);
  if (raw === null) throw new Error(`job ${id} has no record`);
  const current = JobRecord.parse(JSON.parse(raw));
  const next = JobRecord.parse({
    ...current,
    ...change(current),
    version: current.version + 1,
    updatedAt: new Date().toISOString(),
  });
  // Only if nobody wrote meanwhile (a test's job is quiet when this runs; say so if it was not).
  const written = await redis.eval(
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1",
    { keys: [key], arguments: [raw, JSON.stringify(next)] },
  );
  if (written !== 1) throw new Error(`job ${id} changed while writing it without notice`);
  return next;
}
