--[[
  drop-expired-lease: the stall sweeper removes a lease that expired, but not one a worker renewed
  meanwhile (a member scored before ARGV[2] is removed; a later score is kept).

  KEYS[1] a sorted set (the leases, <ns>:{<tag>}:leases)

  ARGV[1] member (job id)
  ARGV[2] before, ms since epoch

  Returns 1 if the member was removed, else 0.
]]
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) < tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
