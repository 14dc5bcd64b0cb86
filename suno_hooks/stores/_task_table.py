"""What a built-in store's expected-task helper implements (`TaskTable`), and how a store runs
a blocking operation for a coroutine (`OffLoop`)."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, Protocol, TypeVar

from .tasks import ExpectedTask

__all__ = ["OffLoop", "TaskTable", "run_here"]

P = ParamSpec("P")
T = TypeVar("T")


class OffLoop(Protocol):
    """Runs a blocking operation for a coroutine: `asyncio.to_thread`, Django's database
    thread, or a direct call for a store that does no I/O."""

    def __call__(
        self, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...


async def run_here(operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `operation` on the event loop itself: for a store whose operations never block."""
    return operation(*args, **kwargs)


class TaskTable(abc.ABC):
    """Expected tasks as a backend keeps them, arguments already checked by the store: `tasks`
    takes a listing name (or None) and the moment, `claim_due` the moment, `purge_tasks` the
    cutoff. The asyncio twins run the synchronous operations through `off_loop` unless the
    backend has native ones."""

    def __init__(self, off_loop: OffLoop = asyncio.to_thread) -> None:
        self._off_loop = off_loop

    @abc.abstractmethod
    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False when it is already known."""

    @abc.abstractmethod
    def settle(self, task_id: str, by: str) -> bool:
        """Mark a pending task settled by `by`; True when this call settled it."""

    @abc.abstractmethod
    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the call that changed it."""

    @abc.abstractmethod
    def reschedule(self, task_id: str, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""

    @abc.abstractmethod
    def claim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """Take up to `limit` pending tasks due at `now`, pushing each `lease` past it."""

    @abc.abstractmethod
    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""

    @abc.abstractmethod
    def tasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """Expected tasks, newest submission first, in the listing `wanted` (None: all)."""

    @abc.abstractmethod
    def purge_tasks(self, cutoff: float) -> int:
        """Forget settled and lost tasks last changed before `cutoff`; how many."""

    async def aexpect(self, task: ExpectedTask) -> bool:
        """`expect` off the event loop."""
        return await self._off_loop(self.expect, task)

    async def asettle(self, task_id: str, by: str) -> bool:
        """`settle` off the event loop."""
        return await self._off_loop(self.settle, task_id, by)

    async def amark_lost(self, task_id: str) -> bool:
        """`mark_lost` off the event loop."""
        return await self._off_loop(self.mark_lost, task_id)

    async def areschedule(self, task_id: str, at: float) -> bool:
        """`reschedule` off the event loop."""
        return await self._off_loop(self.reschedule, task_id, at)

    async def aclaim_due(self, limit: int, lease: float, now: float) -> list[ExpectedTask]:
        """`claim_due` off the event loop."""
        return await self._off_loop(self.claim_due, limit, lease, now)

    async def aget_task(self, task_id: str) -> ExpectedTask | None:
        """`get_task` off the event loop."""
        return await self._off_loop(self.get_task, task_id)

    async def atasks(self, wanted: str | None, limit: int, now: float) -> list[ExpectedTask]:
        """`tasks` off the event loop."""
        return await self._off_loop(self.tasks, wanted, limit, now)
