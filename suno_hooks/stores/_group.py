"""Group commit: the writes waiting at the same moment on an event loop go to the store together,
as one transaction or one round trip, with no timer.

A request `submit`s its item and waits for its own result. When no batch is being written on its
loop, a flush task starts, and its first step runs on the loop's next turn: it takes every item
queued by then and hands them to the store's `write_batch`. While that write runs (in a worker
thread, or awaiting the server), more items queue, and the flush takes them next, until none is
left. So a batch is whatever queued while the previous write ran, and a lone request waits for
nothing but the loop's next turn.

`write_batch(items)` answers one result or one exception per item, in order: an item's exception
is that request's alone. When `write_batch` raises, nothing of the batch was written and every
request of the batch gets that error. A request cancelled while it waits gets no result, and its
item keeps the outcome its batch gives it; one cancelled before its batch was taken is not
written at all.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["BatchSizes", "GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class BatchSizes:
    """How many batches of each size a store wrote: `claims[n]` (and `finishes[n]`) counts the
    batches of `n` requests that went to the store as one transaction or round trip."""

    claims: Counter[int] = field(default_factory=Counter)
    finishes: Counter[int] = field(default_factory=Counter)


class _Lane(Generic[Item, Result]):
    """The items queued on one event loop, and whether a flush task is taking them."""

    __slots__ = ("flushing", "loop", "pending", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self.flushing = False
        self.task: asyncio.Task[None] | None = None


class GroupCommit(Generic[Item, Result]):
    """Batches the items submitted on each event loop and writes each batch with `write_batch`,
    counting the batch sizes in `sizes`; safe to share between loops, threads and a fork."""

    def __init__(
        self,
        write_batch: Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]],
        sizes: Counter[int],
    ) -> None:
        self._write_batch = write_batch
        self.sizes = sizes
        self._lock = threading.Lock()
        self._lanes: dict[asyncio.AbstractEventLoop, _Lane[Item, Result]] = {}
        self._pid = os.getpid()

    async def submit(self, item: Item) -> Result:
        """`item`'s result once its batch was written, or the error of its item or batch."""
        lane = self._lane()
        future: asyncio.Future[Result] = lane.loop.create_future()
        lane.pending.append((item, future))
        if not lane.flushing:
            lane.flushing = True
            lane.task = lane.loop.create_task(self._flush(lane))
        return await future

    def _lane(self) -> _Lane[Item, Result]:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._pid != os.getpid():
                # A forked child writes its own items only, never what its parent had queued.
                self._lanes, self._pid = {}, os.getpid()
            lane = self._lanes.get(loop)
            if lane is None:
                lanes = {kept: old for kept, old in self._lanes.items() if not kept.is_closed()}
                lane = lanes[loop] = _Lane(loop)
                self._lanes = lanes
            return lane

    async def _flush(self, lane: _Lane[Item, Result]) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while lane.pending:
                taken, lane.pending = lane.pending, []
                batch = [(item, future) for item, future in taken if not future.done()]
                if batch:
                    await self._write(batch)
                batch = []
        except BaseException:
            # The loop is closing (or the process stopping): nobody will be answered.
            for _, future in batch + lane.pending:
                future.cancel()
            lane.pending = []
            raise
        finally:
            lane.flushing = False

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        with self._lock:
            self.sizes[len(batch)] += 1
        try:
            results = await self._write_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
