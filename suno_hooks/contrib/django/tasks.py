"""Expected tasks on the Django ORM: the `TaskStore` half of `DjangoStore`.

Every change is a conditional `UPDATE` (a compare-and-set on the row's state and, for claims,
its next poll time), so it is atomic on every database Django supports without row locks: of
two pollers that read the same due task, only the one whose `UPDATE` matched polls it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F

from ...stores._task_table import TaskTable
from ...stores._text import jsonb_value
from ...stores.tasks import ExpectedTask, TaskState
from ._finish_sql import update_rows, updates_directly
from .models import ExpectedTask as TaskRow

__all__ = ["DjangoTasks", "in_database_thread", "moment"]

P = ParamSpec("P")
T = TypeVar("T")


def moment(timestamp: float) -> datetime:
    """A timestamp as the datetime the project's `USE_TZ` setting stores."""
    if settings.USE_TZ:
        return datetime.fromtimestamp(timestamp, timezone.utc)
    return datetime.fromtimestamp(timestamp)


def _task(row: TaskRow) -> ExpectedTask:
    return ExpectedTask(
        task_id=row.task_id,
        feature=row.feature,
        context=row.context,
        submitted_at=row.submitted_at.timestamp(),
        next_poll_at=row.next_poll_at.timestamp(),
        polls=row.polls,
        state=TaskState(row.state),
        settled_by=row.settled_by,
        updated_at=row.updated_at.timestamp(),
    )


async def in_database_thread(operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking ORM operation for a coroutine in Django's database thread."""
    return await sync_to_async(operation)(*args, **kwargs)


class DjangoTasks(TaskTable):
    """Expected tasks in the `ExpectedTask` model, on the database alias `using`."""

    def __init__(self, using: str) -> None:
        super().__init__(in_database_thread)
        self.using = using

    def _rows(self) -> Any:
        return TaskRow.objects.using(self.using)

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""
        row = TaskRow(
            task_id=task.task_id[:128],
            feature=task.feature[:100],
            context=jsonb_value(task.context),
            submitted_at=moment(task.submitted_at),
            next_poll_at=moment(task.next_poll_at),
            polls=0,
            state=TaskState.PENDING.value,
            updated_at=moment(time.time()),
        )
        try:
            with transaction.atomic(using=self.using):
                row.save(using=self.using, force_insert=True)
        except IntegrityError:
            return False
        return True

    def _change(self, task_id: str, target: TaskState, by: str) -> bool:
        """Move a pending task to `target`, settled `by`; True when this call moved it."""
        values = {"state": target.value, "settled_by": by, "updated_at": moment(time.time())}
        pending = {"task_id": task_id, "state": TaskState.PENDING.value}
        connection = connections[self.using]
        if updates_directly(connection):
            return bool(update_rows(connection, TaskRow, values, pending))
        return bool(self._rows().filter(**pending).update(**values))

    def settle(self, task_id: str, by: str) -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""
        return self._change(task_id, TaskState.SETTLED, by)

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""
        return self._change(task_id, TaskState.LOST, "timeout")

    def reschedule(self, task_id: str, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        changed = (
            self._rows()
            .filter(task_id=task_id, state="pending")
            .update(next_poll_at=moment(at), updated_at=moment(time.time()))
        )
        return bool(changed)

    def claim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due for a poll, pushing each past the lease."""
        due = list(
            self._rows()
            .filter(state="pending", next_poll_at__lte=moment(now))
            .order_by("next_poll_at")
            .values_list("task_id", "next_poll_at")[:limit]
        )
        claimed: list[str] = []
        for task_id, next_poll_at in due:
            won = (
                self._rows()
                .filter(task_id=task_id, state="pending", next_poll_at=next_poll_at)
                .update(
                    next_poll_at=moment(now + lease),
                    polls=F("polls") + 1,
                    updated_at=moment(now),
                )
            )
            if won:
                claimed.append(task_id)
        rows = {row.task_id: row for row in self._rows().filter(task_id__in=claimed)}
        return [_task(rows[task_id]) for task_id in claimed if task_id in rows]

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        row = self._rows().filter(task_id=task_id).first()
        return _task(row) if row is not None else None

    def tasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, filtered by state (or "overdue")."""
        rows = self._rows().order_by("-submitted_at", "task_id")
        if wanted == "overdue":
            rows = rows.filter(state="pending", next_poll_at__lte=moment(now))
        elif wanted is not None:
            rows = rows.filter(state=wanted)
        return [_task(row) for row in rows[:limit]]

    def purge_tasks(self, cutoff: float) -> int:
        """Forget settled and lost tasks last changed before `cutoff`."""
        removed, _ = (
            self._rows().exclude(state="pending").filter(updated_at__lt=moment(cutoff)).delete()
        )
        return int(removed)
