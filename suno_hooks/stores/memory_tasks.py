"""Expected tasks in process memory: the `TaskStore` half of `MemoryStore`."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from .base import DEFAULT_RETENTION
from .tasks import AsyncTasksFromSync, ExpectedTask, TaskState, listing

__all__ = ["MemoryTasks"]

_MAX_TASKS = 100_000


class _TaskTable:
    """The tasks themselves, behind one lock; copies go out so callers never share state."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[str, ExpectedTask] = {}


class MemoryTasks(AsyncTasksFromSync):
    """Expected tasks kept in a dict; bounded (the oldest settled or lost tasks go first)."""

    retention: float = DEFAULT_RETENTION

    @property
    def _task_table(self) -> _TaskTable:
        table: _TaskTable | None = self.__dict__.get("_expected_tasks")
        if table is None:
            table = self.__dict__.setdefault("_expected_tasks", _TaskTable())
        return table

    async def _run_task_op(self, operation: Any, /, *args: Any, **kwargs: Any) -> Any:
        return operation(*args, **kwargs)

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""
        table = self._task_table
        with table.lock:
            if task.task_id in table.rows:
                return False
            table.rows[task.task_id] = dataclasses.replace(
                task, state=TaskState.PENDING, updated_at=time.time()
            )
            if len(table.rows) > _MAX_TASKS:
                self._bound_tasks(table)
            return True

    def settle(self, task_id: str, *, by: str = "callback") -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""
        return self._change(task_id, (TaskState.PENDING,), TaskState.SETTLED, by)

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""
        return self._change(task_id, (TaskState.PENDING,), TaskState.LOST, "timeout")

    def _change(
        self, task_id: str, sources: tuple[TaskState, ...], target: TaskState, by: str
    ) -> bool:
        table = self._task_table
        with table.lock:
            task = table.rows.get(task_id)
            if task is None or task.state not in sources:
                return False
            task.state, task.settled_by, task.updated_at = target, by, time.time()
            return True

    def claim_due(
        self, *, limit: int = 100, lease: float = 60.0, now: float | None = None
    ) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due for a poll, pushing each past the lease."""
        moment = time.time() if now is None else now
        table = self._task_table
        with table.lock:
            due = sorted(
                (t for t in table.rows.values() if t.is_overdue(moment)),
                key=lambda t: t.next_poll_at,
            )[:limit]
            for task in due:
                task.polls += 1
                task.next_poll_at = moment + lease
                task.updated_at = moment
            return [dataclasses.replace(task) for task in due]

    def reschedule(self, task_id: str, *, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        table = self._task_table
        with table.lock:
            task = table.rows.get(task_id)
            if task is None or task.state is not TaskState.PENDING:
                return False
            task.next_poll_at, task.updated_at = at, time.time()
            return True

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        table = self._task_table
        with table.lock:
            task = table.rows.get(task_id)
            return dataclasses.replace(task) if task is not None else None

    def tasks(
        self, *, state: TaskState | str | None = None, limit: int = 100, now: float | None = None
    ) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, filtered by state (or "overdue")."""
        wanted = listing(state)
        moment = time.time() if now is None else now
        table = self._task_table
        with table.lock:
            rows = [dataclasses.replace(task) for task in table.rows.values()]
        rows.sort(key=lambda t: t.submitted_at, reverse=True)
        if wanted == "overdue":
            rows = [t for t in rows if t.is_overdue(moment)]
        elif wanted is not None:
            rows = [t for t in rows if t.state.value == wanted]
        return rows[:limit]

    def purge_tasks(self, older_than: float | None = None) -> int:
        """Forget settled and lost tasks last changed before `older_than`."""
        cutoff = older_than if older_than is not None else time.time() - self.retention
        table = self._task_table
        with table.lock:
            old = [
                task_id
                for task_id, task in table.rows.items()
                if task.state is not TaskState.PENDING and task.updated_at < cutoff
            ]
            for task_id in old:
                del table.rows[task_id]
        return len(old)

    @staticmethod
    def _bound_tasks(table: _TaskTable) -> None:
        finished = [k for k, t in table.rows.items() if t.state is not TaskState.PENDING]
        for task_id in finished[: len(table.rows) - _MAX_TASKS * 9 // 10]:
            del table.rows[task_id]
