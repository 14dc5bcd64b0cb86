"""The Lua scripts of `RedisStore`'s deliveries. Every key a script touches is passed in
`KEYS` and all of them share one hash slot (see `_keys`), so each runs on a Redis Cluster.

Every script may run twice for one call: redis-py sends a command again after a socket timeout,
and the first copy may already have run on the server. Each is written so that the repeat
answers what the first run answered (the claim's fencing token doubles as the request's nonce).
"""

from __future__ import annotations

__all__ = [
    "CLAIM",
    "EXTEND",
    "FINISH",
    "FINISH_SETTLING",
    "NOTE_RING",
    "PRUNE",
    "PURGE",
    "QUEUE",
    "READ",
    "RECORD_KEPT",
    "REOPEN",
]

# The numbers and the fencing token of a call travel in one space-separated ARGV (fewer
# arguments are cheaper to send); text that comes from a callback travels on its own.

# KEYS: delivery hash `<tag>d:<dedupe key>`, task terminal mark `<tag>t:<task id>`, replay-guard
#       entry, the shard's inbox index `<tag>r` (so the dedupe key and the task id are read back
#       from the first two keys, past the tag and their two-letter kind).
# ARGV: "lease_ms retention_ms terminal(0|1) guard_ttl_ms received_us received_at token",
#       body digest ("" = no guard), stage, kind, body, meta JSON.
# The inbox index scores are whole microseconds: a small sorted set keeps its scores as text,
# and a ZADD compares the new score with every member's (a float is parsed each time, an
# integer is not).
# Answers the attempt number (>= 1) of a new claim, else 0 (duplicate), -1 (in progress),
# -2 (stale) or -3 (replayed): one integer is the cheapest reply to read.
# A repeat of the same claim (same token) finds its own lease and is answered `new` again.
# The replay guard, the server's clock and the delivery's state, as `CLAIM` and `QUEUE` start.
_GUARD = """local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if ARGV[2] ~= '' and not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ttl) then
  if redis.call('GET', KEYS[3]) ~= ARGV[2] then return -3 end
end
local state = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'attempts', 'token')
"""
# The terminal mark of a terminal stage, or `stale` for progress after it.
_TERMINAL = """if terminal == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', retention)
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  return -2
end
"""
CLAIM = (
    """
local lease, retention, terminal, ttl, score, received, token =
  string.match(ARGV[1], '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
"""
    + _GUARD
    + """local attempts = 1
if state[1] then
  if state[1] == 'processing' and state[4] == token then return tonumber(state[3]) or 1 end
  if state[1] == 'done' then return 0 end
  if state[1] == 'processing' and (tonumber(state[2]) or 0) > now then return -1 end
  attempts = (tonumber(state[3]) or 1) + 1
end
"""
    + _TERMINAL
    + """if state[1] then redis.call('HDEL', KEYS[1], 'error') end
local past_tag = #KEYS[4] + 2
redis.call('HSET', KEYS[1], 'status', 'processing', 'lease_until', now + tonumber(lease),
  'attempts', attempts, 'task_id', string.sub(KEYS[2], past_tag), 'stage', ARGV[3],
  'kind', ARGV[4], 'body', ARGV[5], 'meta', ARGV[6], 'received_at', received,
  'updated_at', now / 1000, 'token', token)
redis.call('PEXPIRE', KEYS[1], retention)
redis.call('ZADD', KEYS[4], score, string.sub(KEYS[1], past_tag))
return attempts
"""
)
"""Claims a delivery: records it, leased, unless it is a duplicate, in progress, stale or a
replayed signature."""

# KEYS: `CLAIM`'s four, then the shard's hand-off index `<tag>q` (dedupe keys scored by when
#       they were queued or last rung, in ms of the server's clock).
# ARGV: "retention_ms terminal(0|1) guard_ttl_ms received_us received_at token", then as
#       `CLAIM`'s. Answers the attempts kept + 1 (>= 1) when queued, else `CLAIM`'s refusals; a
#       key already queued is in progress (-1) unless the same call (token) queued it.
QUEUE = (
    """
local retention, terminal, ttl, score, received, token =
  string.match(ARGV[1], '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
"""
    + _GUARD
    + """local attempts = 0
if state[1] then
  if state[1] == 'queued' and state[4] == token then return (tonumber(state[3]) or 0) + 1 end
  if state[1] == 'done' then return 0 end
  if state[1] == 'queued' then return -1 end
  if state[1] == 'processing' and (tonumber(state[2]) or 0) > now then return -1 end
  attempts = tonumber(state[3]) or 1
end
"""
    + _TERMINAL
    + """if state[1] then redis.call('HDEL', KEYS[1], 'error', 'lease_until') end
local past_tag = #KEYS[4] + 2
local member = string.sub(KEYS[1], past_tag)
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', attempts,
  'task_id', string.sub(KEYS[2], past_tag), 'stage', ARGV[3], 'kind', ARGV[4],
  'body', ARGV[5], 'meta', ARGV[6], 'received_at', received, 'updated_at', now / 1000,
  'token', token, 'rings', 0, 'rung_at', now)
redis.call('PEXPIRE', KEYS[1], retention)
redis.call('ZADD', KEYS[4], score, member)
redis.call('ZADD', KEYS[5], now, member)
return attempts + 1
"""
)
"""Queues a delivery: `CLAIM`'s checks, recording it `queued` (no lease, no attempt counted) in
the inbox and the shard's hand-off index."""

# KEYS: delivery hash, the shard's hand-off index. ARGV: the member, a nonce. Counts one more
# ring and when (server clock); a repeat of the same call (nonce) counts nothing more.
NOTE_RING = """
local state = redis.call('HMGET', KEYS[1], 'task_id', 'rings', 'ring_nonce')
if not state[1] then return 0 end
if state[3] == ARGV[2] then return tonumber(state[2]) or 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rings = redis.call('HINCRBY', KEYS[1], 'rings', 1)
redis.call('HSET', KEYS[1], 'rung_at', now, 'ring_nonce', ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return rings
"""
"""Counts one more ring of a delivery and when it was rung; answers the new count (0: gone)."""

# KEYS: a shard's hand-off index, then the delivery hashes of ARGV's members in the same order.
# Removes the members whose delivery is done or gone, checked as they are removed.
PRUNE = """
for i = 2, #KEYS do
  local status = redis.call('HGET', KEYS[i], 'status')
  if not status or status == 'done' then redis.call('ZREM', KEYS[1], ARGV[i - 1]) end
end
return 0
"""
"""Removes from a shard's hand-off index the members whose delivery is done or gone."""

# KEYS: delivery hash. ARGV: "status retention_ms token", error.
# Changes nothing (and answers 0) unless the token still owns the delivery; a repeat of the
# same finish writes the same state again.
_FINISH_DELIVERY = """
local status, retention, token = string.match(ARGV[1], '^(%S+) (%S+) (%S+)')
if redis.call('HGET', KEYS[1], 'token') ~= token then return 0 end
local clock = redis.call('TIME')
local updated = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
if status == 'failed' then
  redis.call('HSET', KEYS[1], 'status', status, 'updated_at', updated, 'error', ARGV[2])
  redis.call('HDEL', KEYS[1], 'lease_until')
else
  redis.call('HSET', KEYS[1], 'status', status, 'updated_at', updated)
  redis.call('HDEL', KEYS[1], 'lease_until', 'error')
end
redis.call('PEXPIRE', KEYS[1], retention)
"""
FINISH = _FINISH_DELIVERY + "return 1\n"
"""Marks a delivery done or failed and ends its lease, only while the token still owns it."""

# `FINISH`, then, only when it changed the delivery, the expected task's settle as
# `_tasks`' change script does it (pending -> settled, out of the due queue).
# KEYS: delivery hash, task hash `<tag>x:<task id>`, the task's shard queue `<tag>xq`.
# ARGV: "status retention_ms token now", error, settled_by. A repeat finds the task settled
# already and changes it no more; the answer is the finish's.
FINISH_SETTLING = (
    _FINISH_DELIVERY
    + """
local now = string.match(ARGV[1], '(%S+)$')
if redis.call('HGET', KEYS[2], 'state') == 'pending' then
  redis.call('HSET', KEYS[2], 'state', 'settled', 'settled_by', ARGV[3], 'updated_at', now,
    'nonce', token)
  redis.call('ZREM', KEYS[3], string.sub(KEYS[2], #KEYS[3] + 1))
  redis.call('PEXPIRE', KEYS[2], retention)
end
return 1
"""
)
"""`FINISH`, then settles the delivery's expected task when the finish changed the delivery."""

# KEYS: delivery hash. ARGV: error. A done delivery turns failed with `error`; anything else
# is left alone (answers 0). A repeat finds it failed and answers 0.
REOPEN = """
if redis.call('HGET', KEYS[1], 'status') ~= 'done' then return 0 end
local clock = redis.call('TIME')
local updated = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_at', updated, 'error', ARGV[1])
return 1
"""
"""Marks a done delivery failed with an error, so a replay asked for on purpose can claim it."""

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
"""Moves the end of a processing delivery's lease, only for the token that owns it."""

# KEYS: delivery hash. ARGV: file name, record JSON, file name, record JSON, ... Each record is
# its own field `kept:<name>`, so a record of the same name is replaced and two calls never lose
# each other's files; a repeat writes the same fields again. Answers 0 when the delivery is gone.
RECORD_KEPT = """
if redis.call('HEXISTS', KEYS[1], 'task_id') == 0 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], 'kept:' .. ARGV[i], ARGV[i + 1])
end
return 1
"""
"""Records the media kept for a delivery, one hash field per file name."""

# KEYS: delivery hash. The hash and the clock of the server that keeps it, read together.
READ = """
return {redis.call('TIME'), redis.call('HGETALL', KEYS[1])}
"""
"""A delivery's hash and the server's clock, read together."""

# KEYS: a shard's inbox index, then the delivery hashes of ARGV[2..] in the same order.
# ARGV: cutoff (whole microseconds, the index's unit), then dedupe keys. Removes the entries
# still received before the cutoff, leaving live leases alone; answers {removed, kept}.
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
"""Removes a shard's deliveries received before the cutoff, leaving live leases alone."""
