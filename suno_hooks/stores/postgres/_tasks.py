"""Expected tasks in PostgreSQL: the `TaskStore` half of `PostgresStore`.

The table is created on first use (`IF NOT EXISTS`). Every operation is one statement, so one
round trip; claiming due tasks locks them with `FOR UPDATE SKIP LOCKED`, so concurrent pollers
on any number of hosts take disjoint tasks.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg.types.json import Jsonb

from .._task_table import TaskTable
from .._text import jsonb_value
from ..tasks import ExpectedTask, task_from_row

__all__ = ["PostgresTasks"]

Rows = list[tuple[Any, ...]]

_COLUMNS = (
    "task_id, feature, context, submitted_at, next_poll_at, polls, state, settled_by, updated_at"
)
_EXPECT = f"""
INSERT INTO suno_hooks_tasks ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, 0, 'pending', NULL, %s)
ON CONFLICT (task_id) DO NOTHING RETURNING task_id
"""
_CHANGE = """
UPDATE suno_hooks_tasks SET state = %s, settled_by = %s, updated_at = %s
WHERE task_id = %s AND state = 'pending' RETURNING task_id
"""
_RESCHEDULE = """
UPDATE suno_hooks_tasks SET next_poll_at = %s, updated_at = %s
WHERE task_id = %s AND state = 'pending' RETURNING task_id
"""
_CLAIM_DUE = f"""
UPDATE suno_hooks_tasks t SET next_poll_at = %s, polls = t.polls + 1, updated_at = %s
FROM (
    SELECT task_id, next_poll_at AS due FROM suno_hooks_tasks
    WHERE state = 'pending' AND next_poll_at <= %s
    ORDER BY next_poll_at LIMIT %s FOR UPDATE SKIP LOCKED
) d
WHERE t.task_id = d.task_id
RETURNING {", ".join(f"t.{name}" for name in _COLUMNS.split(", "))}, d.due
"""
_PURGE = "DELETE FROM suno_hooks_tasks WHERE state <> 'pending' AND updated_at < %s RETURNING 1"


class PostgresTasks(TaskTable):
    """Expected tasks in the `suno_hooks_tasks` table, through the store's connections: `rows`
    runs one statement on a synchronous one, `arows` on an asyncio one."""

    def __init__(
        self,
        rows: Callable[[str, tuple[Any, ...]], Rows],
        arows: Callable[[str, tuple[Any, ...]], Awaitable[Rows]],
    ) -> None:
        super().__init__()
        self._rows = rows
        self._arows = arows

    # -- statements -----------------------------------------------------------------------------

    @staticmethod
    def _expect_params(task: ExpectedTask) -> tuple[Any, ...]:
        context = Jsonb(jsonb_value(task.context)) if task.context is not None else None
        return (
            task.task_id,
            task.feature,
            context,
            task.submitted_at,
            task.next_poll_at,
            time.time(),
        )

    @staticmethod
    def _claim_due_params(limit: int, lease: float, now: float) -> tuple[Any, ...]:
        return (now + lease, now, now, limit)

    @staticmethod
    def _task_listing(wanted: str | None, limit: int, now: float) -> tuple[str, tuple[Any, ...]]:
        where: str = ""
        params: tuple[Any, ...] = ()
        if wanted == "overdue":
            where, params = "WHERE state = 'pending' AND next_poll_at <= %s", (now,)
        elif wanted is not None:
            where, params = "WHERE state = %s", (wanted,)
        sql = f"SELECT {_COLUMNS} FROM suno_hooks_tasks {where} ORDER BY submitted_at DESC LIMIT %s"
        return sql, (*params, limit)

    # -- synchronous ----------------------------------------------------------------------------

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""
        return bool(self._rows(_EXPECT, self._expect_params(task)))

    def settle(self, task_id: str, by: str) -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""
        return bool(self._rows(_CHANGE, ("settled", by, time.time(), task_id)))

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""
        return bool(self._rows(_CHANGE, ("lost", "timeout", time.time(), task_id)))

    def reschedule(self, task_id: str, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        return bool(self._rows(_RESCHEDULE, (at, time.time(), task_id)))

    def claim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due for a poll, in one statement."""
        return _claimed(self._rows(_CLAIM_DUE, self._claim_due_params(limit, lease, now)))

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        rows = self._rows(f"SELECT {_COLUMNS} FROM suno_hooks_tasks WHERE task_id = %s", (task_id,))
        return task_from_row(rows[0]) if rows else None

    def tasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, filtered by state (or "overdue")."""
        return [task_from_row(row) for row in self._rows(*self._task_listing(wanted, limit, now))]

    def purge_tasks(self, cutoff: float) -> int:
        """Forget settled and lost tasks last changed before `cutoff`."""
        return len(self._rows(_PURGE, (cutoff,)))

    # -- asyncio --------------------------------------------------------------------------------

    async def aexpect(self, task: ExpectedTask) -> bool:
        """`expect` on an asyncio connection."""
        return bool(await self._arows(_EXPECT, self._expect_params(task)))

    async def asettle(self, task_id: str, by: str) -> bool:
        """`settle` on an asyncio connection."""
        return bool(await self._arows(_CHANGE, ("settled", by, time.time(), task_id)))

    async def amark_lost(self, task_id: str) -> bool:
        """`mark_lost` on an asyncio connection."""
        return bool(await self._arows(_CHANGE, ("lost", "timeout", time.time(), task_id)))

    async def areschedule(self, task_id: str, at: float) -> bool:
        """`reschedule` on an asyncio connection."""
        return bool(await self._arows(_RESCHEDULE, (at, time.time(), task_id)))

    async def aclaim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """`claim_due` on an asyncio connection: one round trip."""
        return _claimed(await self._arows(_CLAIM_DUE, self._claim_due_params(limit, lease, now)))

    async def aget_task(self, task_id: str) -> ExpectedTask | None:
        """`get_task` on an asyncio connection."""
        rows = await self._arows(
            f"SELECT {_COLUMNS} FROM suno_hooks_tasks WHERE task_id = %s", (task_id,)
        )
        return task_from_row(rows[0]) if rows else None

    async def atasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """`tasks` on an asyncio connection."""
        return [
            task_from_row(row) for row in await self._arows(*self._task_listing(wanted, limit, now))
        ]


def _claimed(rows: Rows) -> list[ExpectedTask]:
    return [task_from_row(row[:-1]) for row in sorted(rows, key=lambda row: row[-1])]
