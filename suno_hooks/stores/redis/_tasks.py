"""Expected tasks in Redis: the `TaskStore` half of `RedisStore`.

Each task is a hash on its task's shard (`_keys`); each shard's queue holds its pending
tasks scored by their next poll time and its index every task scored by submission time (for
listings). Every change is one Lua script call on the task's hash slot; claiming due tasks reads
the shards' queues, then claims the earliest on each shard atomically (keys all in `KEYS`).
"""

from __future__ import annotations

import heapq
import json
import time
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from .._task_table import TaskTable
from ..base import new_token
from ..tasks import ExpectedTask, TaskState
from ._keys import SHARDS, RedisKeys, ShardCursor, shard_of

__all__ = ["RedisTasks"]

_FIELDS = ("feature", "context", "submitted_at", "next_poll_at", "polls", "state", "settled_by",
           "updated_at")  # fmt: skip
_HMGET_FIELDS = ", ".join(f"'{name}'" for name in _FIELDS)

# Each script may run twice for one call (redis-py sends it again after a socket timeout):
# the call's nonce, kept in the task hash, lets the repeat answer what the first run did.

# KEYS: task hash, pending queue, all-tasks index. ARGV: task id, feature, context JSON,
# submitted_at, next_poll_at, now, retention ms, nonce.
_EXPECT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'nonce') == ARGV[8] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'feature', ARGV[2], 'context', ARGV[3], 'submitted_at', ARGV[4],
  'next_poll_at', ARGV[5], 'polls', 0, 'state', 'pending', 'settled_by', '', 'updated_at', ARGV[6],
  'nonce', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1
"""

# KEYS: task hash, pending queue. ARGV: task id, states allowed to change (space-separated),
# new state, settled_by, now, retention ms, nonce.
_CHANGE_LUA = """
local state = redis.call('HMGET', KEYS[1], 'state', 'nonce')
if state[1] == ARGV[3] and state[2] == ARGV[7] then return 1 end
if not state[1] or not string.find(' ' .. ARGV[2] .. ' ', ' ' .. state[1] .. ' ', 1, true) then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'settled_by', ARGV[4], 'updated_at', ARGV[5],
  'nonce', ARGV[7])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""

# KEYS: task hash, pending queue. ARGV: task id, next poll time, now. A repeat sets the same.
_RESCHEDULE_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'next_poll_at', ARGV[2], 'updated_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: a shard's pending queue, then the hashes of the task ids ARGV[4..] in the same order.
# ARGV: now, lease end, nonce, task ids. Returns {task id, fields...} per task it claimed: those
# still pending and due (or already claimed by this very call); queue members whose hash
# expired or that are no longer pending are dropped.
_CLAIM_DUE_LUA = f"""
local claimed = {{}}
for i = 2, #KEYS do
  local task_id = ARGV[i + 2]
  local due = redis.call('ZSCORE', KEYS[1], task_id)
  local state = redis.call('HMGET', KEYS[i], 'state', 'nonce')
  local take = state[1] == 'pending' and state[2] == ARGV[3]
  if not take and due and tonumber(due) <= tonumber(ARGV[1]) then
    if state[1] == 'pending' then
      redis.call('ZADD', KEYS[1], ARGV[2], task_id)
      redis.call('HINCRBY', KEYS[i], 'polls', 1)
      redis.call('HSET', KEYS[i], 'next_poll_at', ARGV[2], 'updated_at', ARGV[1],
        'nonce', ARGV[3])
      take = true
    else
      redis.call('ZREM', KEYS[1], task_id)
    end
  end
  if take then
    local row = redis.call('HMGET', KEYS[i], {_HMGET_FIELDS})
    table.insert(row, 1, task_id)
    table.insert(claimed, row)
  end
end
return claimed
"""

_SCRIPTS = {
    "expect": _EXPECT_LUA,
    "change": _CHANGE_LUA,
    "reschedule": _RESCHEDULE_LUA,
    "claim_due": _CLAIM_DUE_LUA,
}
_PAGE = 200


class RedisTasks(TaskTable):
    """Expected tasks under the store's keys, kept `retention_ms` once finished: synchronous
    calls on the client `sync` returns, asyncio calls on the one `aclient` returns (the event
    loop's own)."""

    def __init__(
        self,
        keys: RedisKeys,
        sync: Callable[[], Any],
        aclient: Callable[[], Awaitable[Any]],
        retention_ms: int,
    ) -> None:
        super().__init__()
        self.keys = keys
        self._sync = sync
        self._aclient = aclient
        self._retention_ms = retention_ms
        self._script_cache: weakref.WeakKeyDictionary[Any, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )

    # -- scripts and keys -----------------------------------------------------------------------

    def _task_scripts(self, client: Any) -> dict[str, Any]:
        cache = self._script_cache
        scripts = cache.get(client)
        if scripts is None:
            scripts = {name: client.register_script(lua) for name, lua in _SCRIPTS.items()}
            cache[client] = scripts
        return scripts

    def _calls(self, name: str, **values: Any) -> tuple[list[str], list[Any]]:
        """The keys and arguments of one script call on one task (`claim_due` has its own)."""
        task_id = values["task"].task_id if name == "expect" else values["task_id"]
        shard, now = shard_of(task_id), repr(time.time())
        keys = [self.keys.task(task_id), self.keys.task_queue(shard)]
        retention = self._retention_ms
        if name == "expect":
            task: ExpectedTask = values["task"]
            context = json.dumps(task.context) if task.context is not None else ""
            args: list[Any] = [task.task_id, task.feature, context, repr(task.submitted_at)]
            args += [repr(task.next_poll_at), now, retention, new_token()]
            return [*keys, self.keys.task_index(shard)], args
        if name == "change":
            args = [task_id, values["sources"], values["target"], values["by"], now, retention]
            return keys, [*args, new_token()]
        return keys, [task_id, repr(values["at"]), now]

    def _due_reads(self, client: Any, now: float, limit: int) -> Any:
        """A pipeline reading the `limit` earliest due tasks of every shard's queue."""
        pipe = client.pipeline(transaction=False)
        for shard in range(SHARDS):
            queue = self.keys.task_queue(shard)
            pipe.zrangebyscore(queue, "-inf", repr(now), start=0, num=limit, withscores=True)
        return pipe

    def _due_calls(
        self, queues: list[Any], now: float, lease: float, limit: int
    ) -> list[tuple[list[str], list[Any]]]:
        """The `claim_due` script calls for the `limit` earliest due tasks over all shards."""
        due = heapq.nsmallest(
            limit,
            ((float(score), shard, member) for shard, rows in enumerate(queues)
             for member, score in rows),
        )  # fmt: skip
        nonce = new_token()
        by_shard: defaultdict[int, list[str]] = defaultdict(list)
        for _, shard, member in due:
            by_shard[shard].append(member.decode())
        calls = []
        for shard, task_ids in sorted(by_shard.items()):
            keys = [self.keys.task_queue(shard), *(self.keys.task(t) for t in task_ids)]
            calls.append((keys, [repr(now), repr(now + lease), nonce, *task_ids]))
        return calls

    @staticmethod
    def _claimed_tasks(queues: list[Any], replies: list[Any]) -> list[ExpectedTask]:
        """The claimed tasks, earliest due first."""
        due = {member: float(score) for rows in queues for member, score in rows}
        rows = sorted((row for reply in replies for row in reply), key=lambda r: due[r[0]])
        return [_task(row[0].decode(), row[1:]) for row in rows]

    @staticmethod
    def _change_values(task_id: str, target: TaskState, by: str) -> dict[str, Any]:
        sources = "pending"
        return {"task_id": task_id, "sources": sources, "target": target.value, "by": by}

    # -- synchronous ----------------------------------------------------------------------------

    def _run(self, name: str, **values: Any) -> Any:
        client = self._sync()
        keys, args = self._calls(name, **values)
        return self._task_scripts(client)[name](keys=keys, args=args)

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""
        return bool(self._run("expect", task=task))

    def settle(self, task_id: str, by: str) -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""
        return bool(self._run("change", **self._change_values(task_id, TaskState.SETTLED, by)))

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""
        values = self._change_values(task_id, TaskState.LOST, "timeout")
        return bool(self._run("change", **values))

    def reschedule(self, task_id: str, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        return bool(self._run("reschedule", task_id=task_id, at=at))

    def claim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due for a poll: one read of every shard's queue,
        then one atomic script call per shard holding some of the earliest."""
        client = self._sync()
        queues = self._due_reads(client, now, limit).execute()
        script = self._task_scripts(client)["claim_due"]
        replies = [
            script(keys=keys, args=args)
            for keys, args in self._due_calls(queues, now, lease, limit)
        ]
        return self._claimed_tasks(queues, replies)

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        client = self._sync()
        row = client.hmget(self.keys.task(task_id), *_FIELDS)
        return _task(task_id, row) if row[0] is not None else None

    def tasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, filtered by state (or "overdue")."""
        client = self._sync()
        found: list[ExpectedTask] = []
        cursor = ShardCursor(client, self.keys.task_index, max(1, min(_PAGE, limit)))
        while len(found) < limit:
            batch = cursor.take(_PAGE)
            if not batch:
                break
            pipe = client.pipeline(transaction=False)
            for _, member in batch:
                pipe.hmget(self.keys.task(member.decode()), *_FIELDS)
            vanished: defaultdict[int, list[bytes]] = defaultdict(list)
            for (shard, member), row in zip(batch, pipe.execute(), strict=True):
                if row[0] is None:
                    vanished[shard].append(member)
                    continue
                task = _task(member.decode(), row)
                if _listed(task, wanted, now) and len(found) < limit:
                    found.append(task)
            for shard, members in vanished.items():
                client.zrem(self.keys.task_index(shard), *members)
                cursor.removed(shard, len(members))
        return found

    def purge_tasks(self, cutoff: float) -> int:
        """Forget settled and lost tasks last changed before `cutoff` (pending ones and index
        entries of expired tasks are left to expire or be swept by listings)."""
        old = [
            t.task_id
            for t in self.tasks(None, 1_000_000, time.time())
            if t.state is not TaskState.PENDING and t.updated_at < cutoff
        ]
        by_shard: defaultdict[int, list[str]] = defaultdict(list)
        for task_id in old:
            by_shard[shard_of(task_id)].append(task_id)
        client = self._sync()
        for shard, task_ids in by_shard.items():
            client.delete(*(self.keys.task(task_id) for task_id in task_ids))
            client.zrem(self.keys.task_index(shard), *task_ids)
        return len(old)

    # -- asyncio --------------------------------------------------------------------------------

    async def _arun(self, name: str, **values: Any) -> Any:
        client = await self._aclient()
        keys, args = self._calls(name, **values)
        return await self._task_scripts(client)[name](keys=keys, args=args)

    async def aexpect(self, task: ExpectedTask) -> bool:
        """`expect` on the event loop's own connection."""
        return bool(await self._arun("expect", task=task))

    async def asettle(self, task_id: str, by: str) -> bool:
        """`settle` on the event loop's own connection."""
        values = self._change_values(task_id, TaskState.SETTLED, by)
        return bool(await self._arun("change", **values))

    async def amark_lost(self, task_id: str) -> bool:
        """`mark_lost` on the event loop's own connection."""
        values = self._change_values(task_id, TaskState.LOST, "timeout")
        return bool(await self._arun("change", **values))

    async def areschedule(self, task_id: str, at: float) -> bool:
        """`reschedule` on the event loop's own connection."""
        return bool(await self._arun("reschedule", task_id=task_id, at=at))

    async def aclaim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """`claim_due` on the event loop's own connection."""
        client = await self._aclient()
        queues = await self._due_reads(client, now, limit).execute()
        script = self._task_scripts(client)["claim_due"]
        replies = [
            await script(keys=keys, args=args)
            for keys, args in self._due_calls(queues, now, lease, limit)
        ]
        return self._claimed_tasks(queues, replies)

    async def aget_task(self, task_id: str) -> ExpectedTask | None:
        """`get_task` on the event loop's own connection."""
        client = await self._aclient()
        row = await client.hmget(self.keys.task(task_id), *_FIELDS)
        return _task(task_id, row) if row[0] is not None else None


def _listed(task: ExpectedTask, wanted: str | None, now: float) -> bool:
    if wanted is None:
        return True
    if wanted == "overdue":
        return task.is_overdue(now)
    return task.state.value == wanted


def _text(value: bytes | None) -> str:
    return value.decode() if value else ""


def _task(task_id: str, row: list[bytes | None]) -> ExpectedTask:
    feature, context, submitted, next_poll, polls, state, settled_by, updated = row
    return ExpectedTask(
        task_id=task_id,
        feature=_text(feature),
        context=json.loads(context) if context else None,
        submitted_at=float(submitted or 0),
        next_poll_at=float(next_poll or 0),
        polls=int(polls or 0),
        state=TaskState(_text(state) or "pending"),
        settled_by=_text(settled_by) or None,
        updated_at=float(updated or 0),
    )
