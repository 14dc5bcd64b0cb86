"""Expected tasks in the SQLite file: the `TaskStore` half of `SQLiteStore`.

The table is created on first use (`IF NOT EXISTS`), so files written by an older suno-hooks
gain it without a schema step. Claiming due tasks is one select and `UPDATE … RETURNING` inside
one `BEGIN IMMEDIATE` transaction: one writer at a time, across threads and processes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from .._task_table import TaskTable
from ..tasks import ExpectedTask, TaskState, task_from_row

__all__ = ["SETTLE", "SQLiteTasks"]

_COLUMNS = (
    "task_id, feature, context, submitted_at, next_poll_at, polls, state, settled_by, updated_at"
)
_EXPECT = f"""
INSERT INTO suno_hooks_tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, 'pending', NULL, ?)
ON CONFLICT (task_id) DO NOTHING
"""
_DUE = """
SELECT task_id FROM suno_hooks_tasks WHERE state = 'pending' AND next_poll_at <= ?
ORDER BY next_poll_at LIMIT ?
"""
_CLAIM = f"""
UPDATE suno_hooks_tasks SET next_poll_at = ?, polls = polls + 1, updated_at = ?
WHERE task_id = ? RETURNING {_COLUMNS}
"""
_CHANGE = """
UPDATE suno_hooks_tasks SET state = ?, settled_by = ?, updated_at = ?
WHERE task_id = ? AND state IN ({sources})
"""
SETTLE = _CHANGE.format(sources="'pending'")
"""Settles a pending task (state, settled by, time); a settled or lost one is left alone."""
_MARK_LOST = _CHANGE.format(sources="'pending'")
_RESCHEDULE = """
UPDATE suno_hooks_tasks SET next_poll_at = ?, updated_at = ? WHERE task_id = ? AND state = 'pending'
"""


Opener = Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]


class SQLiteTasks(TaskTable):
    """Expected tasks in the `suno_hooks_tasks` table of the store's file, on the store's
    pooled connections (`connection`) and write transactions (`transaction`)."""

    def __init__(self, connection: Opener, transaction: Opener) -> None:
        super().__init__()
        self._connection = connection
        self._transaction = transaction

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._connection() as conn:
            return int(conn.execute(sql, params).rowcount)

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""
        context = json.dumps(task.context) if task.context is not None else None
        params = (task.task_id, task.feature, context, task.submitted_at, task.next_poll_at)
        return self._write(_EXPECT, (*params, time.time())) == 1

    def settle(self, task_id: str, by: str) -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""
        return self._write(SETTLE, (TaskState.SETTLED.value, by, time.time(), task_id)) == 1

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""
        return self._write(_MARK_LOST, (TaskState.LOST.value, "timeout", time.time(), task_id)) == 1

    def reschedule(self, task_id: str, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        return self._write(_RESCHEDULE, (at, time.time(), task_id)) == 1

    def claim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due for a poll, pushing each past the lease."""
        with self._transaction() as conn:
            due = conn.execute(_DUE, (now, limit)).fetchall()
            rows = [
                conn.execute(_CLAIM, (now + lease, now, task_id)).fetchone() for (task_id,) in due
            ]
        return [task_from_row(row) for row in rows]

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        found = self._select("WHERE task_id = ?", (task_id,), 1)
        return found[0] if found else None

    def tasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, filtered by state (or "overdue")."""
        if wanted is None:
            return self._select("", (), limit)
        if wanted == "overdue":
            return self._select("WHERE state = 'pending' AND next_poll_at <= ?", (now,), limit)
        return self._select("WHERE state = ?", (wanted,), limit)

    def _select(self, where: str, params: tuple[Any, ...], limit: int) -> list[ExpectedTask]:
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM suno_hooks_tasks {where} "
                "ORDER BY submitted_at DESC LIMIT ?",
                (*params, int(limit)),
            ).fetchall()
        return [task_from_row(row) for row in rows]

    def purge_tasks(self, cutoff: float) -> int:
        """Forget settled and lost tasks last changed before `cutoff`."""
        return self._write(
            "DELETE FROM suno_hooks_tasks WHERE state != 'pending' AND updated_at < ?", (cutoff,)
        )
