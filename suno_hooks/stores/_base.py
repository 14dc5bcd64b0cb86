"""The private base of the built-in stores: each public method written once.

A backend writes only its own operations (`claim`, `finish`, `_deliveries`, `_purge`, ...) and
owns a `_tasks` helper (a `TaskTable`) for expected tasks. The base checks the arguments once
(`DeliveryQuery`, purge cutoffs, task listings) and runs the asyncio twin of any operation a
backend has no native async for through `_off_loop`: a worker thread unless the backend says
otherwise.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ..errors import ConfigurationError
from ..media.kept import KeptFile
from ._queue import QueueBase
from ._task_table import TaskTable
from .base import Claim, ClaimResult, Delivery, DeliveryStatus, ReplayCheck, delivery_source
from .tasks import ExpectedTask, TaskState, listing, settle_expected

__all__ = ["DeliveryQuery", "StoreBase", "positive_option"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """The filters of one inbox listing, checked once: a known status, whole non-negative
    `limit` and `offset`. `source` matches a delivery without one as `"callback"`."""

    status: DeliveryStatus | None = None
    kind: str | None = None
    task_id: str | None = None
    stage: str | None = None
    source: str | None = None
    limit: int = 100
    offset: int = 0

    @classmethod
    def of(
        cls,
        status: DeliveryStatus | str | None = None,
        kind: str | None = None,
        task_id: str | None = None,
        limit: int = 100,
        stage: str | None = None,
        source: str | None = None,
        offset: int = 0,
    ) -> DeliveryQuery:
        """The query for `Store.deliveries`'s keywords; an unknown status raises ValueError."""
        wanted = DeliveryStatus(status) if status is not None else None
        return cls(wanted, kind, task_id, stage, source, max(0, int(limit)), max(0, int(offset)))

    def matches(self, delivery: Delivery) -> bool:
        """True when `delivery` (with the status a listing reports) passes every filter."""
        return (
            (self.status is None or delivery.status == self.status)
            and (self.kind is None or delivery.kind == self.kind)
            and (self.task_id is None or delivery.task_id == self.task_id)
            and (self.stage is None or delivery.stage == self.stage)
            and (self.source is None or delivery_source(delivery) == self.source)
        )

    def page(self, newest_first: Iterable[Delivery]) -> list[Delivery]:
        """The matching deliveries, past `offset`, at most `limit` of them."""
        matching = (delivery for delivery in newest_first if self.matches(delivery))
        return list(itertools.islice(matching, self.offset, self.offset + self.limit))


def positive_option(name: str, value: Any, default: float) -> float:
    """A store option that must be a positive number (given as one or as URL text); `default`
    when it is None."""
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number; got {value!r}.") from None
    if not number > 0:
        raise ConfigurationError(f"{name} must be positive; got {value!r}.")
    return number


def _moment(now: float | None) -> float:
    return time.time() if now is None else now


class StoreBase(QueueBase):
    """What every built-in store offers: the `Store`, `AsyncStore`, `Queues`, `TaskStore` and
    `AsyncTaskStore` contracts, token binding, `reopen`, `claim_done` and `finish_settling`."""

    retention: float
    _tasks: TaskTable

    async def _off_loop(self, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking operation for a coroutine: in a worker thread unless a backend says
        otherwise."""
        return await asyncio.to_thread(operation, *args, **kwargs)

    # -- what a backend writes --------------------------------------------------------------------

    @abc.abstractmethod
    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide: new, duplicate, in progress, stale or replayed."""

    @abc.abstractmethod
    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False,
        and nothing changed, when `token` no longer owns the delivery."""

    @abc.abstractmethod
    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now while `token` owns the delivery."""

    @abc.abstractmethod
    def reopen(self, key: str, *, error: str) -> bool:
        """Mark a done delivery failed with `error` (for a replay asked for on purpose)."""

    @abc.abstractmethod
    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""

    @abc.abstractmethod
    def _deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        """The inbox entries `query` asks for, newest first."""

    @abc.abstractmethod
    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (a lapsed lease counts as abandoned)."""

    @abc.abstractmethod
    def _purge(self, cutoff: float) -> int:
        """Forget the deliveries received before `cutoff` (a live lease is kept); how many."""

    @abc.abstractmethod
    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves (for `ttl` seconds); True
        when it is `task_id`."""

    @abc.abstractmethod
    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the delivery's `kept` by name, its status and lease untouched;
        False when the delivery is not kept."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- written once -----------------------------------------------------------------------------

    def claim_done(self, key: str, replay: ReplayCheck | None) -> ClaimResult | None:
        """`claim`'s answer for a key known done without I/O; None (let `claim` decide) unless
        the store keeps its keys in this process."""
        return None

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish`, and when `token` still owned the delivery, the expected task's settle (a
        failure to settle is logged: the delivery is recorded)."""
        finished = self.finish(key, token=token, error=error)
        if finished:
            settle_expected(self, task_id, by)
        return finished

    def deliveries(
        self,
        *,
        status: DeliveryStatus | str | None = None,
        kind: str | None = None,
        task_id: str | None = None,
        limit: int = 100,
        stage: str | None = None,
        source: str | None = None,
        offset: int = 0,
    ) -> list[Delivery]:
        """Inbox entries, newest first, filtered by status, kind, task id, stage and source
        (a delivery without one counts as `"callback"`); `offset` skips that many matches."""
        return self._deliveries(
            DeliveryQuery.of(status, kind, task_id, limit, stage, source, offset)
        )

    def purge(self, older_than: float | None = None) -> int:
        """Forget deliveries received before `older_than` (default: now − retention), with the
        replay-guard entries and token bindings that have expired; how many deliveries."""
        return self._purge(self._cutoff(older_than))

    def _cutoff(self, older_than: float | None) -> float:
        return older_than if older_than is not None else time.time() - self.retention

    # -- asyncio: off the loop unless a backend has its own ---------------------------------------

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim` without blocking the event loop."""
        return await self._off_loop(self.claim, delivery, lease=lease, replay=replay)

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish` without blocking the event loop."""
        return await self._off_loop(self.finish, key, token=token, error=error)

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish_settling` without blocking the event loop."""
        return await self._off_loop(
            self.finish_settling, key, token=token, error=error, task_id=task_id, by=by
        )

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` without blocking the event loop."""
        return await self._off_loop(self.extend, key, token=token, lease=lease)

    async def aget(self, key: str) -> Delivery | None:
        """`get` without blocking the event loop."""
        return await self._off_loop(self.get, key)

    async def adeliveries(self, **filters: Any) -> list[Delivery]:
        """`deliveries` (the same keywords) without blocking the event loop."""
        return await self._adeliveries(DeliveryQuery.of(**filters))

    async def _adeliveries(self, query: DeliveryQuery) -> list[Delivery]:
        return await self._off_loop(self._deliveries, query)

    async def apurge(self, older_than: float | None = None) -> int:
        """`purge` without blocking the event loop."""
        return await self._apurge(self._cutoff(older_than))

    async def _apurge(self, cutoff: float) -> int:
        return await self._off_loop(self._purge, cutoff)

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` without blocking the event loop."""
        return await self._off_loop(self.bind_token, token_id, task_id, ttl)

    async def arecord_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """`record_kept` without blocking the event loop."""
        return await self._off_loop(self.record_kept, key, tuple(files))

    async def aclose(self) -> None:
        """`close`."""
        self.close()

    # -- expected tasks, through the store's `_tasks` ---------------------------------------------

    def expect(self, task: ExpectedTask) -> bool:
        """Remember a submitted task as pending; False (and nothing changed) when it is known."""
        return self._tasks.expect(task)

    def settle(self, task_id: str, *, by: str = "callback") -> bool:
        """Mark a pending task settled by `by`; True when this call settled it (a lost task
        stays lost)."""
        return self._tasks.settle(task_id, by)

    def mark_lost(self, task_id: str) -> bool:
        """Give up on a pending task; True only for the one call that changed it."""
        return self._tasks.mark_lost(task_id)

    def reschedule(self, task_id: str, *, at: float) -> bool:
        """Set a pending task's next poll time; True when it was pending."""
        return self._tasks.reschedule(task_id, at)

    def claim_due(
        self, *, limit: int = 100, lease: float = 60.0, now: float | None = None
    ) -> list[ExpectedTask]:
        """Atomically take up to `limit` pending tasks due for a poll (oldest due first), each
        with `polls + 1` and `next_poll_at = now + lease`."""
        return self._tasks.claim_due(int(limit), lease, _moment(now))

    def get_task(self, task_id: str) -> ExpectedTask | None:
        """The expected task with that id, if known."""
        return self._tasks.get_task(task_id)

    def tasks(
        self, *, state: TaskState | str | None = None, limit: int = 100, now: float | None = None
    ) -> list[ExpectedTask]:
        """Expected tasks, newest submission first; `state` is one of `TASK_LISTINGS`
        (`"overdue"`: pending and due for a poll at `now`)."""
        return self._tasks.tasks(listing(state), int(limit), _moment(now))

    def purge_tasks(self, older_than: float | None = None) -> int:
        """Forget settled and lost tasks last changed before `older_than` (default: now −
        retention); how many."""
        return self._tasks.purge_tasks(self._cutoff(older_than))

    async def aexpect(self, task: ExpectedTask) -> bool:
        """`expect` without blocking the event loop."""
        return await self._tasks.aexpect(task)

    async def asettle(self, task_id: str, *, by: str = "callback") -> bool:
        """`settle` without blocking the event loop."""
        return await self._tasks.asettle(task_id, by)

    async def amark_lost(self, task_id: str) -> bool:
        """`mark_lost` without blocking the event loop."""
        return await self._tasks.amark_lost(task_id)

    async def areschedule(self, task_id: str, *, at: float) -> bool:
        """`reschedule` without blocking the event loop."""
        return await self._tasks.areschedule(task_id, at)

    async def aclaim_due(
        self, *, limit: int = 100, lease: float = 60.0, now: float | None = None
    ) -> list[ExpectedTask]:
        """`claim_due` without blocking the event loop."""
        return await self._tasks.aclaim_due(int(limit), lease, _moment(now))

    async def aget_task(self, task_id: str) -> ExpectedTask | None:
        """`get_task` without blocking the event loop."""
        return await self._tasks.aget_task(task_id)

    async def atasks(
        self, *, state: TaskState | str | None = None, limit: int = 100, now: float | None = None
    ) -> list[ExpectedTask]:
        """`tasks` without blocking the event loop."""
        return await self._tasks.atasks(listing(state), int(limit), _moment(now))
