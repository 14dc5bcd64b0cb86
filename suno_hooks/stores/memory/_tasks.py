"""Expected tasks in process memory: the `TaskStore` half of `MemoryStore`."""

from __future__ import annotations

import dataclasses
import threading
import time

from .._task_table import TaskTable, run_here
from ..tasks import ExpectedTask, TaskState

__all__ = ["MemoryTasks"]

_MAX_TASKS = 100_000


class MemoryTasks(TaskTable):
    """Expected tasks kept in a dict behind one lock, copies going out so callers never share
    state; bounded (the oldest settled or lost tasks go first)."""

    def __init__(self) -> None:
        super().__init__(run_here)
        self.lock = threading.Lock()
        self.rows: dict[str, ExpectedTask] = {}

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""
        with self.lock:
            if task.task_id in self.rows:
                return False
            self.rows[task.task_id] = dataclasses.replace(
                task, state=TaskState.PENDING, updated_at=time.time()
            )
            if len(self.rows) > _MAX_TASKS:
                self._bound_tasks()
            return True

    def settle(self, task_id: str, by: str) -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""
        return self._change(task_id, (TaskState.PENDING,), TaskState.SETTLED, by)

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""
        return self._change(task_id, (TaskState.PENDING,), TaskState.LOST, "timeout")

    def _change(
        self, task_id: str, sources: tuple[TaskState, ...], target: TaskState, by: str
    ) -> bool:
        with self.lock:
            task = self.rows.get(task_id)
            if task is None or task.state not in sources:
                return False
            task.state, task.settled_by, task.updated_at = target, by, time.time()
            return True

    def claim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due for a poll, pushing each past the lease."""
        with self.lock:
            due = sorted(
                (t for t in self.rows.values() if t.is_overdue(now)),
                key=lambda t: t.next_poll_at,
            )[:limit]
            for task in due:
                task.polls += 1
                task.next_poll_at = now + lease
                task.updated_at = now
            return [dataclasses.replace(task) for task in due]

    def reschedule(self, task_id: str, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        with self.lock:
            task = self.rows.get(task_id)
            if task is None or task.state is not TaskState.PENDING:
                return False
            task.next_poll_at, task.updated_at = at, time.time()
            return True

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        with self.lock:
            task = self.rows.get(task_id)
            return dataclasses.replace(task) if task is not None else None

    def tasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, filtered by state (or "overdue")."""
        with self.lock:
            rows = [dataclasses.replace(task) for task in self.rows.values()]
        rows.sort(key=lambda t: t.submitted_at, reverse=True)
        if wanted == "overdue":
            rows = [t for t in rows if t.is_overdue(now)]
        elif wanted is not None:
            rows = [t for t in rows if t.state.value == wanted]
        return rows[:limit]

    def purge_tasks(self, cutoff: float) -> int:
        """Forget settled and lost tasks last changed before `cutoff`."""
        with self.lock:
            old = [
                task_id
                for task_id, task in self.rows.items()
                if task.state is not TaskState.PENDING and task.updated_at < cutoff
            ]
            for task_id in old:
                del self.rows[task_id]
        return len(old)

    def _bound_tasks(self) -> None:
        finished = [k for k, t in self.rows.items() if t.state is not TaskState.PENDING]
        for task_id in finished[: len(self.rows) - _MAX_TASKS * 9 // 10]:
            del self.rows[task_id]
