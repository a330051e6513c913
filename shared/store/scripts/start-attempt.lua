--[[
  start-attempt: a worker takes a job that was never started for its first attempt, in one step:
  it reads the record and, when the record is exactly as the API created it, writes it `running`
  under a new attempt with a lease (the lease lands with the record, atomically). One round trip
  instead of a read and a commit (commit-job.lua). Anything else is handed back to the caller as
  it is, to decide in code and commit with commit-job.lua (docs/worker-protocol.md, "Taking a job").

  The fast path is taken only for a record at version 1, `queued`, whose JSON holds no backslash:
  such a record holds plain strings and the small integers of a new job, so re-encoding it here
  (cjson) keeps every value exactly (a JSON escape, a float or an empty array might not survive).

  All KEYS carry the job's shard's hash tag <tag> (shared/store/names.ts): one slot on Redis Cluster.
  KEYS[1] record key            <ns>:{<tag>}:job:<id>
  KEYS[2] queued index          <ns>:{<tag>}:queued
  KEYS[3] payload key           <ns>:{<tag>}:job:<id>:payload
  KEYS[4] leases                <ns>:{<tag>}:leases   (sorted set: id by lease expiry ms)

  ARGV[1] job id
  ARGV[2] attemptId (the new attempt's fencing token)
  ARGV[3] now, ISO 8601 (the record's startedAt and updatedAt)
  ARGV[4] lease expiry, ms since epoch
  ARGV[5] ttl, seconds (record and payload)

  Returns {'started', next record JSON} (version 2, running, attempts 1, the new attemptId; its
  event is not published: the caller publishes it), {'current', record JSON, lease expiry ms or ''}
  (nothing written), or {'missing'}.
]]
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing'} end
local c = cjson.decode(raw)
if c['version'] ~= 1 or c['status'] ~= 'queued' or string.find(raw, '\\', 1, true) then
  return {'current', raw, redis.call('ZSCORE', KEYS[4], ARGV[1]) or ''}
end
c['status'] = 'running'
c['version'] = 2
c['attempts'] = c['attempts'] + 1
c['attemptId'] = ARGV[2]
c['startedAt'] = ARGV[3]
c['updatedAt'] = ARGV[3]
local next = cjson.encode(c)
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('SET', KEYS[1], next, 'EX', ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return {'started', next}
