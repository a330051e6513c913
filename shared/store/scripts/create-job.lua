--[[
  create-job: a new job enters the store, queued.

  All KEYS carry the job's shard's hash tag <tag> (shared/store/names.ts): one slot on Redis Cluster.
  KEYS[1] record key            <ns>:{<tag>}:job:<id>     (string, the job record as JSON)
  KEYS[2] queued index          <ns>:{<tag>}:queued       (sorted set: id by due ms, for the queue watchdog)
  KEYS[3] payload key           <ns>:{<tag>}:job:<id>:payload
  KEYS[4] recent-jobs index     <ns>:{<tag>}:jobs:recent  (sorted set: id by createdAt ms, bounded per shard)

  ARGV[1] record JSON
  ARGV[2] ttl, seconds (record and payload)
  ARGV[3] due ms (the job's createdAt)
  ARGV[4] job id
  ARGV[5] payload JSON, or "" to store none
  ARGV[6] recent-jobs limit (how many ids the shard's index keeps)

  Returns 1 when created, 0 when a record with this id exists already (nothing is written).
]]
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[2]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[6]) - 1)
return 1
