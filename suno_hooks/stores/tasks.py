"""Expected tasks: what a store remembers about tasks submitted and not yet answered (DESIGN §11).

A task is `pending` from submission until its terminal callback (or a poll) `settle`s it, or
until the reconciler gives up and marks it `lost`. Claiming due tasks for polling is one atomic
step that also pushes their `next_poll_at` past a lease, so two pollers never poll one task at
once; a poller that dies simply lets the lease run out.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "TASK_LISTINGS",
    "AsyncTaskStore",
    "ExpectedTask",
    "TaskState",
    "TaskStore",
]


class TaskState(str, enum.Enum):
    """Where an expected task stands: waiting for its result, answered, or given up on."""

    PENDING = "pending"
    SETTLED = "settled"
    LOST = "lost"


# What `tasks(state=...)` accepts: the three states, plus "overdue" (pending and due for a poll).
TASK_LISTINGS = ("pending", "overdue", "settled", "lost")


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
        after: float = 600.0,
        now: float | None = None,
    ) -> ExpectedTask:
        """A task submitted `now` (default: the current time), first due for a poll `after`
        seconds later."""
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
        """Mark a pending (or lost) task settled by `by`; True when this call settled it."""
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


def listing(state: TaskState | str | None) -> str | None:
    """Check a `tasks(state=...)` argument; the listing name, or None for every task."""
    if state is None:
        return None
    name = state.value if isinstance(state, TaskState) else str(state)
    if name not in TASK_LISTINGS:
        raise ValueError(f"state must be one of {', '.join(TASK_LISTINGS)}; got {state!r}.")
    return name
