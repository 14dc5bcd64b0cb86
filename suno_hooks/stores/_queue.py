"""The hand-off half of the private store base: `queue`, `sweepable` and `note_ring` written
once, each backend writing only its own atomic operations."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from .base import Claim, Delivery, ReplayCheck

__all__ = ["QueueBase"]

P = ParamSpec("P")
T = TypeVar("T")


class QueueBase(abc.ABC):
    """The `Queues` and `AsyncQueues` contracts: a backend writes `queue`, `_sweepable` and
    `note_ring`; the asyncio twins run them through the store's `_off_loop`."""

    @abc.abstractmethod
    async def _off_loop(self, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking operation for a coroutine."""

    @abc.abstractmethod
    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """In one atomic write, `claim`'s checks in the same order; where `claim` would answer
        NEW the delivery is recorded `queued` (no lease, no attempt counted) and NEW answered;
        a key already queued answers IN_PROGRESS and nothing changes."""

    @abc.abstractmethod
    def _sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        """`sweepable` with its arguments checked (`limit` and `max_rings` at least 1)."""

    @abc.abstractmethod
    def note_ring(self, key: str) -> int:
        """Atomically count one more ring for `key` and remember when (so `sweepable` skips it
        for `older_than` seconds); the new count, 0 when the delivery is not kept."""

    def sweepable(self, *, older_than: float, max_rings: int, limit: int = 100) -> list[Delivery]:
        """Deliveries whose hand-off should be rung again, oldest received first: `queued` ones
        last rung (or queued, when never rung) more than `older_than` seconds ago, and
        `processing` ones of the hand-off whose lease ended that long ago, with fewer than
        `max_rings` rings."""
        checked = self._checked(older_than, max_rings, limit)
        return [] if checked is None else self._sweepable(*checked)

    async def aqueue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`queue` without blocking the event loop."""
        return await self._off_loop(self.queue, delivery, replay=replay)

    async def asweepable(
        self, *, older_than: float, max_rings: int, limit: int = 100
    ) -> list[Delivery]:
        """`sweepable` without blocking the event loop."""
        checked = self._checked(older_than, max_rings, limit)
        return [] if checked is None else await self._off_loop(self._sweepable, *checked)

    async def anote_ring(self, key: str) -> int:
        """`note_ring` without blocking the event loop."""
        return await self._off_loop(self.note_ring, key)

    @staticmethod
    def _checked(older_than: float, max_rings: int, limit: int) -> tuple[float, int, int] | None:
        older_than, max_rings, limit = max(0.0, float(older_than)), int(max_rings), int(limit)
        if max_rings < 1 or limit < 1:
            return None
        return older_than, max_rings, limit
