"""The Lua scripts of `RedisStore`'s deliveries. Every key a script touches is passed in
`KEYS` and all of them share one hash slot (see `redis_keys`), so each runs on a Redis Cluster.

Every script may run twice for one call: redis-py sends a command again after a socket timeout,
and the first copy may already have run on the server. Each is written so that the repeat
answers what the first run answered (the claim's fencing token doubles as the request's nonce).
"""

from __future__ import annotations

__all__ = ["CLAIM", "EXTEND", "FINISH", "PURGE", "READ"]

# KEYS: delivery hash, task terminal mark, replay-guard entry, the shard's inbox index.
# ARGV: lease ms, retention ms, terminal flag, body digest ("" = no guard), guard ttl ms,
#       dedupe key, task id, stage, kind, body, meta JSON, received_at, fencing token.
# A repeat of the same claim (same token) finds its own lease and is answered `new` again.
CLAIM = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if ARGV[4] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if not seen then
    redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
  elseif seen ~= ARGV[4] then
    return {'replayed', 0}
  end
end
local state = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'attempts', 'token')
local attempts = 1
if state[1] then
  if state[1] == 'processing' and state[4] == ARGV[13] then
    return {'new', tonumber(state[3]) or 1}
  end
  if state[1] == 'done' then return {'duplicate', 0} end
  if state[1] == 'processing' and (tonumber(state[2]) or 0) > now then
    return {'in_progress', 0}
  end
  attempts = (tonumber(state[3]) or 1) + 1
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  return {'stale', 0}
end
redis.call('HSET', KEYS[1], 'status', 'processing', 'lease_until', now + tonumber(ARGV[1]),
  'attempts', attempts, 'task_id', ARGV[7], 'stage', ARGV[8], 'kind', ARGV[9],
  'body', ARGV[10], 'meta', ARGV[11], 'received_at', ARGV[12], 'updated_at', now / 1000,
  'token', ARGV[13])
redis.call('HDEL', KEYS[1], 'error')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[12], ARGV[6])
return {'new', attempts}
"""

# KEYS: delivery hash. ARGV: status, error, retention ms, fencing token.
# Changes nothing (and answers 0) unless the token still owns the delivery; a repeat of the
# same finish writes the same state again.
FINISH = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[4] then return 0 end
local clock = redis.call('TIME')
redis.call('HSET', KEYS[1], 'status', ARGV[1],
  'updated_at', tonumber(clock[1]) + tonumber(clock[2]) / 1000000)
redis.call('HDEL', KEYS[1], 'lease_until')
if ARGV[1] == 'failed' then
  redis.call('HSET', KEYS[1], 'error', ARGV[2])
else
  redis.call('HDEL', KEYS[1], 'error')
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS: delivery hash. ARGV: fencing token, lease ms. Leases run on the server's clock; a
# repeat moves the end of the lease again, from a later now.
EXTEND = """
local state = redis.call('HMGET', KEYS[1], 'status', 'token')
if state[1] ~= 'processing' or state[2] ~= ARGV[1] then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2]))
return 1
"""

# KEYS: delivery hash. The hash and the clock of the server that keeps it, read together.
READ = """
return {redis.call('TIME'), redis.call('HGETALL', KEYS[1])}
"""

# KEYS: a shard's inbox index, then the delivery hashes of ARGV[2..] in the same order.
# ARGV: cutoff (seconds), then dedupe keys. Removes the entries still received before the
# cutoff, leaving live leases alone; answers {removed, kept}.
PURGE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local removed, kept = 0, 0
for i = 2, #KEYS do
  local member = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) < tonumber(ARGV[1]) then
    local state = redis.call('HMGET', KEYS[i], 'status', 'lease_until')
    if state[1] == 'processing' and (tonumber(state[2]) or 0) > now then
      kept = kept + 1
    else
      removed = removed + redis.call('DEL', KEYS[i])
      redis.call('ZREM', KEYS[1], member)
    end
  end
end
return {removed, kept}
"""
