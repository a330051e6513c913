--[[
  release-lease: an attempt that is done gives up its lease. The lease goes if the job is gone or
  ended, or if the record still names this attempt; a newer attempt's lease is left alone.

  All KEYS carry the job's shard's hash tag <tag> (shared/store/names.ts): one slot on Redis Cluster.
  KEYS[1] leases                <ns>:{<tag>}:leases
  KEYS[2] record key            <ns>:{<tag>}:job:<id>

  ARGV[1] job id
  ARGV[2] attemptId

  Returns 1 if a lease was removed, else 0.
]]
local raw = redis.call('GET', KEYS[2])
if raw then
  local r = cjson.decode(raw)
  local ended = r['status'] == 'succeeded' or r['status'] == 'failed' or r['status'] == 'canceled'
  if not ended and r['attemptId'] ~= ARGV[2] then return 0 end
end
return redis.call('ZREM', KEYS[1], ARGV[1])
