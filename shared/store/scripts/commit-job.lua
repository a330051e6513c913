--[[
  commit-job: the one compare-and-set every change of a job's record goes through (queued ->
  running -> succeeded / failed / canceled, back to queued for a retry, progress, cancel requests).
  The caller's event message (the job's new public view, in the Socket.IO sharded adapter's format)
  is SPUBLISHed on the job's events channel atomically with the write; without one, the caller
  publishes it after the commit.
  A job that ends (a terminal next status) loses its payload and its lease entry, if any: no attempt
  owns an ended job, so its worker need not release the lease in another round trip.

  All KEYS carry the job's shard's hash tag <tag> (shared/store/names.ts): one slot on Redis Cluster.
  KEYS[1] record key            <ns>:{<tag>}:job:<id>
  KEYS[2] result key            <ns>:{<tag>}:job:<id>:result  (written only with a `succeeded` record)
  KEYS[3] events channel        <ns>:socket.io#/#job:{<tag>}:<id># (sharded pub/sub: SPUBLISH; its
                                                        hash tag is the room's, the job's <tag>)
  KEYS[4] queued index          <ns>:{<tag>}:queued
  KEYS[5] payload key           <ns>:{<tag>}:job:<id>:payload
  KEYS[6] leases                <ns>:{<tag>}:leases   (sorted set: id by lease expiry ms; the job's
                                                        entry goes with a terminal commit)

  ARGV[1]  next record JSON (its `version` must be the stored version + 1)
  ARGV[2]  next version
  ARGV[3]  ttl, seconds (record, result and payload)
  ARGV[4]  result JSON, or ""
  ARGV[5]  queued due ms, or "": when set, the id is (re)indexed as queued, due then;
           otherwise it leaves the queued index if the stored record was `queued`
  ARGV[6]  lease-expired-before ms, or "": when set, the commit is refused ('guarded') if the
           job's lease expires at or after this time (the stall sweeper's guard)
  ARGV[7]  next status
  ARGV[8]  job id
  ARGV[9]  "1" if the next status is terminal (the payload and the lease entry are dropped), else ""
  ARGV[10] payload JSON, or "" (stored anew, for a job put back in the queue)
  ARGV[11] optional: the message (bytes) to SPUBLISH on KEYS[3] (the job's `job` event, encoded by
           the caller: one command instead of a commit and a publish); absent or "" for none

  Returns 'committed', 'conflict' (stored version is not ARGV[2] - 1), 'missing' (no record) or
  'guarded' (see ARGV[6]). Nothing is written unless it returns 'committed'.
]]
local cur = redis.call('GET', KEYS[1])
if not cur then return 'missing' end
local c = cjson.decode(cur)
if c['version'] ~= tonumber(ARGV[2]) - 1 then return 'conflict' end
if ARGV[6] ~= '' then
  local s = redis.call('ZSCORE', KEYS[6], ARGV[8])
  if s and tonumber(s) >= tonumber(ARGV[6]) then return 'guarded' end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if ARGV[4] ~= '' and ARGV[7] == 'succeeded' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[8])
elseif c['status'] == 'queued' then redis.call('ZREM', KEYS[4], ARGV[8]) end
if ARGV[9] == '1' then
  redis.call('DEL', KEYS[5])
  redis.call('ZREM', KEYS[6], ARGV[8])
elseif ARGV[10] ~= '' then redis.call('SET', KEYS[5], ARGV[10], 'EX', ARGV[3])
else redis.call('EXPIRE', KEYS[5], ARGV[3]) end
if ARGV[11] and ARGV[11] ~= '' then redis.call('SPUBLISH', KEYS[3], ARGV[11]) end
return 'committed'
