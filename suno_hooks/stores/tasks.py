"""Expected tasks: what a store remembers about tasks submitted and not yet answered.

A task is `pending` from submission until its terminal callback (or a poll) `settle`s it, or
until the reconciler gives up and marks it `lost`. Claiming due tasks for polling is one atomic
step that also pushes their `next_poll_at` past a lease, so two pollers never poll one task at
once; a poller that dies simply lets the lease run out.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from .conformance import conforms

__all__ = [
    "TASK_LISTINGS",
    "AsyncFinishesSettling",
    "AsyncTaskStore",
    "ExpectedTask",
    "FinishesSettling",
    "TaskState",
    "TaskStore",
    "asettle_expected",
    "settle_expected",
    "task_from_row",
]

logger = logging.getLogger("suno_hooks")


class TaskState(str, enum.Enum):
    """Where an expected task stands: waiting for its result, answered, or given up on."""

    PENDING = "pending"
    SETTLED = "settled"
    LOST = "lost"


TASK_LISTINGS = ("pending", "overdue", "settled", "lost")
"""What `tasks(state=...)` accepts: the three states, plus "overdue" (pending and due for a
poll)."""


@dataclass(slots=True)
class ExpectedTask:
    """A task submitted to the Suno API whose result the application is waiting for.

    `feature` names the endpoint family (`"replace_section"`, `"lyrics"`, or a market model such
    as `"ai-music-api/generate"`); `next_poll_at` is when a poller may next ask about it (also
    the end of a poller's lease); `polls` counts the claims for polling; `settled_by` says what
    ended it: `"callback"`, `"poll"` or `"timeout"`.
    """

    task_id: str
    feature: str
    context: dict[str, Any] | None = None
    submitted_at: float = 0.0
    next_poll_at: float = 0.0
    polls: int = 0
    state: TaskState = TaskState.PENDING
    settled_by: str | None = None
    updated_at: float = 0.0

    @classmethod
    def submitted(
        cls,
        task_id: str,
        feature: str,
        *,
        context: dict[str, Any] | None = None,
        after: float = 0.0,
        now: float | None = None,
    ) -> ExpectedTask:
        """A task submitted `now` (default: the current time), due for a poll `after` seconds
        later (default: at once, so the reconciler's own `after` decides its first poll)."""
        moment = time.time() if now is None else now
        return cls(task_id, feature, context, moment, moment + after, 0, TaskState.PENDING, None)

    def is_overdue(self, now: float | None = None) -> bool:
        """True when the task is pending and due for a poll."""
        moment = time.time() if now is None else now
        return self.state is TaskState.PENDING and self.next_poll_at <= moment

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for listings, the CLI and the inbox page."""
        return {
            "task_id": self.task_id,
            "feature": self.feature,
            "context": self.context,
            "state": self.state.value,
            "settled_by": self.settled_by,
            "submitted_at": self.submitted_at,
            "next_poll_at": self.next_poll_at,
            "polls": self.polls,
            "updated_at": self.updated_at,
        }


@runtime_checkable
class TaskStore(Protocol):
    """The expected-task half of a store (memory, SQLite, Redis, Django ORM, PostgreSQL)."""

    retention: float

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False (and nothing changed) when it is known."""
        ...

    def settle(self, task_id: str, *, by: str = "callback") -> bool:
        """Mark a pending task settled by `by`; True when this call settled it (a lost task
        stays lost: the result that arrives late is still dispatched)."""
        ...

    def claim_due(
        self, *, limit: int = 100, lease: float = 60.0, now: float | None = None
    ) -> list[ExpectedTask]:
        """Atomically take up to `limit` pending tasks due for a poll (oldest due first): each
        gets `polls + 1` and `next_poll_at = now + lease`, so no other poller takes it meanwhile."""
        ...

    def reschedule(self, task_id: str, *, at: float) -> bool:
        """Set a pending task's next poll time (the poll found it unfinished); True when it was
        pending."""
        ...

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the one call that changed it (so it is
        reported once)."""
        ...

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        ...

    def tasks(
        self, *, state: TaskState | str | None = None, limit: int = 100, now: float | None = None
    ) -> list[ExpectedTask]:
        """Expected tasks, newest submission first; `state` is one of `TASK_LISTINGS`
        (`"overdue"`: pending and due for a poll at `now`)."""
        ...

    def purge_tasks(self, older_than: float | None = None) -> int:
        """Forget settled and lost tasks last changed before `older_than` (default: now −
        retention); how many."""
        ...


@runtime_checkable
class AsyncTaskStore(Protocol):
    """The asyncio flavour of `TaskStore`: the same operations, prefixed with `a`."""

    async def aexpect(self, task: ExpectedTask) -> bool:
        """`TaskStore.expect` without blocking the event loop."""
        ...

    async def asettle(self, task_id: str, *, by: str = "callback") -> bool:
        """`TaskStore.settle` without blocking the event loop."""
        ...

    async def aclaim_due(
        self, *, limit: int = 100, lease: float = 60.0, now: float | None = None
    ) -> list[ExpectedTask]:
        """`TaskStore.claim_due` without blocking the event loop."""
        ...

    async def areschedule(self, task_id: str, *, at: float) -> bool:
        """`TaskStore.reschedule` without blocking the event loop."""
        ...

    async def amark_lost(self, task_id: str) -> bool:
        """`TaskStore.mark_lost` without blocking the event loop."""
        ...

    async def aget_task(self, task_id: str) -> ExpectedTask | None:
        """`TaskStore.get_task` without blocking the event loop."""
        ...

    async def atasks(
        self, *, state: TaskState | str | None = None, limit: int = 100, now: float | None = None
    ) -> list[ExpectedTask]:
        """`TaskStore.tasks` without blocking the event loop."""
        ...


@runtime_checkable
class FinishesSettling(Protocol):
    """A store that records a terminal delivery done or failed and settles its expected task in
    one write, instead of a `settle` and a `finish`."""

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`Store.finish`, and when `token` still owns the delivery, `TaskStore.settle(task_id,
        by=by)` in the same write; the answer is `finish`'s."""
        ...


@runtime_checkable
class AsyncFinishesSettling(Protocol):
    """The asyncio flavour of `FinishesSettling`."""

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`FinishesSettling.finish_settling` without blocking the event loop."""
        ...


def task_from_row(row: tuple[Any, ...]) -> ExpectedTask:
    """An `ExpectedTask` from the nine columns the SQL stores keep, in field order (`context`
    as JSON text or already decoded)."""
    task_id, feature, context, submitted, next_poll, polls, state, settled_by, updated = row
    return ExpectedTask(
        task_id=task_id,
        feature=feature,
        context=json.loads(context) if isinstance(context, str) and context else context or None,
        submitted_at=float(submitted),
        next_poll_at=float(next_poll),
        polls=int(polls),
        state=TaskState(state),
        settled_by=settled_by,
        updated_at=float(updated),
    )


def listing(state: TaskState | str | None) -> str | None:
    """Check a `tasks(state=...)` argument; the listing name, or None for every task."""
    if state is None:
        return None
    name = state.value if isinstance(state, TaskState) else str(state)
    if name not in TASK_LISTINGS:
        raise ValueError(f"state must be one of {', '.join(TASK_LISTINGS)}; got {state!r}.")
    return name


def settle_expected(store: object, task_id: str, source: str) -> None:
    """Settle the expected task of a terminal delivery, when the store keeps expected tasks;
    a failure is logged, never raised (the delivery itself is already recorded)."""
    if conforms(store, TaskStore):
        try:
            cast(TaskStore, store).settle(task_id, by=source)
        except Exception:
            logger.exception("could not settle the expected task %s", task_id)


async def asettle_expected(store: object, task_id: str, source: str) -> None:
    """`settle_expected` without blocking the event loop."""
    try:
        if conforms(store, AsyncTaskStore):
            await cast(AsyncTaskStore, store).asettle(task_id, by=source)
        elif conforms(store, TaskStore):
            await asyncio.to_thread(cast(TaskStore, store).settle, task_id, by=source)
    except Exception:
        logger.exception("could not settle the expected task %s", task_id)
