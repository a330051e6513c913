--[[
  renew-leases: a worker extends the leases of the attempts it runs, and learns which of those
  jobs were asked to cancel. A lease is extended only while the record is `running` and still
  names this attempt (fencing): an attempt that lost its job renews nothing.

  All KEYS carry one shard's hash tag <tag> (shared/store/names.ts): one slot on Redis Cluster.
  KEYS[1]    leases             <ns>:{<tag>}:leases   (sorted set: id by lease expiry ms)
  KEYS[2..n] one record key per job of that shard, <ns>:{<tag>}:job:<id>, in the order of the ARGV pairs

  ARGV[1]    new expiry, ms since epoch
  ARGV[2..]  pairs: job id, attemptId (pair i belongs to KEYS[i + 1])

  Returns the ids (among those renewed) whose record has `cancelRequested` set.
]]
local cancel = {}
for i = 2, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw then
    local r = cjson.decode(raw)
    local id = ARGV[2 * i - 2]
    if r['status'] == 'running' and r['attemptId'] == ARGV[2 * i - 1] then
      redis.call('ZADD', KEYS[1], ARGV[1], id)
      if r['cancelRequested'] then cancel[#cancel + 1] = id end
    end
  end
end
return cancel
