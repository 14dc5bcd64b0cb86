"""`StoreCalls`: the store operations a receiver and its leases perform, resolved once from what
the store can do.

Each operation is bound when the receiver is built: the store's own method when it has one, else
the fallback chosen here (on an event loop, a sync method runs in a worker thread; a store that
cannot bind tokens binds none and says so once; one that cannot settle in its `finish` settles
just before it). The request path then calls what was bound and never asks the store's type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from ..stores import (
    AsyncBindsTokens,
    AsyncFinishesSettling,
    AsyncQueues,
    AsyncStore,
    AsyncTaskStore,
    BindsTokens,
    Claim,
    ClaimResult,
    Delivery,
    FinishesSettling,
    KnowsDone,
    Queues,
    ReplayCheck,
    Store,
    TaskStore,
)
from ..stores.conformance import conforms
from .config import warn_once

__all__ = ["StoreCalls", "in_thread"]

logger = logging.getLogger("suno_hooks")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_thread(call: Callable[_P, _R]) -> Callable[_P, Awaitable[_R]]:
    """`call` as a coroutine function that runs it in a worker thread."""

    async def run_in_thread(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await asyncio.to_thread(call, *args, **kwargs)

    return run_in_thread


class StoreCalls:
    """A store's operations as the pipeline calls them, each bound once (see the module
    docstring): `claim`, `get`, `extend`, `bind_token`, `finish`, `finish_settling` (which
    settles the expected task too: in the same write when the store can, else just before),
    the hand-off's `queue`, `sweepable` and `note_ring` (None when the store cannot queue),
    and their `a`-prefixed coroutine twins."""

    __slots__ = (
        "_asettle",
        "_settle",
        "abind_token",
        "aclaim",
        "aextend",
        "afinish",
        "afinish_settling",
        "aget",
        "anote_ring",
        "aqueue",
        "asweepable",
        "bind_token",
        "claim",
        "claim_done",
        "extend",
        "finish",
        "finish_settling",
        "get",
        "note_ring",
        "queue",
        "store",
        "sweepable",
    )

    def __init__(self, store: Store) -> None:
        self.store = store
        self.claim: Callable[..., Claim] = store.claim
        self.get: Callable[[str], Delivery | None] = store.get
        self.extend: Callable[..., bool] = store.extend
        self.finish: Callable[..., bool] = store.finish
        self.claim_done: Callable[[str, ReplayCheck | None], ClaimResult | None] | None = (
            store.claim_done if isinstance(store, KnowsDone) else None
        )
        self.bind_token: Callable[[str, str, float], bool] = (
            cast(BindsTokens, store).bind_token if conforms(store, BindsTokens) else self._no_bind
        )
        self._settle: Callable[..., Any] | None = (
            cast(TaskStore, store).settle if conforms(store, TaskStore) else None
        )
        self.finish_settling: Callable[..., bool] = (
            cast(FinishesSettling, store).finish_settling
            if conforms(store, FinishesSettling)
            else self._settle_then_finish
        )
        self._resolve_async(store)
        self._resolve_queue(store)

    def _resolve_queue(self, store: Store) -> None:
        queues = conforms(store, Queues)
        self.queue: Callable[..., Claim] | None = cast(Queues, store).queue if queues else None
        self.sweepable: Callable[..., list[Delivery]] | None = (
            cast(Queues, store).sweepable if queues else None
        )
        self.note_ring: Callable[[str], int] | None = (
            cast(Queues, store).note_ring if queues else None
        )
        self.aqueue: Callable[..., Awaitable[Claim]] | None = None
        self.asweepable: Callable[..., Awaitable[list[Delivery]]] | None = None
        self.anote_ring: Callable[[str], Awaitable[int]] | None = None
        if conforms(store, AsyncQueues):
            native = cast(AsyncQueues, store)
            self.aqueue, self.asweepable = native.aqueue, native.asweepable
            self.anote_ring = native.anote_ring
        elif queues:
            blocking = cast(Queues, store)
            self.aqueue, self.asweepable = in_thread(blocking.queue), in_thread(blocking.sweepable)
            self.anote_ring = in_thread(blocking.note_ring)

    def _resolve_async(self, store: Store) -> None:
        if conforms(store, AsyncStore):
            native = cast(AsyncStore, store)
            self.aclaim: Callable[..., Awaitable[Claim]] = native.aclaim
            self.aget: Callable[[str], Awaitable[Delivery | None]] = native.aget
            self.aextend: Callable[..., Awaitable[bool]] = native.aextend
            self.afinish: Callable[..., Awaitable[bool]] = native.afinish
        else:
            self.aclaim = in_thread(store.claim)
            self.aget = in_thread(store.get)
            self.aextend = in_thread(store.extend)
            self.afinish = in_thread(store.finish)
        self.abind_token: Callable[[str, str, float], Awaitable[bool]]
        if conforms(store, AsyncBindsTokens):
            self.abind_token = cast(AsyncBindsTokens, store).abind_token
        elif conforms(store, BindsTokens):
            self.abind_token = in_thread(self.bind_token)
        else:
            self.abind_token = in_thread(self._no_bind)
        self._asettle: Callable[..., Awaitable[Any]] | None = None
        if conforms(store, AsyncTaskStore):
            self._asettle = cast(AsyncTaskStore, store).asettle
        elif self._settle is not None:
            self._asettle = in_thread(self._settle)
        self.afinish_settling: Callable[..., Awaitable[bool]]
        if not conforms(store, FinishesSettling):
            self.afinish_settling = self._asettle_then_finish
        elif conforms(store, AsyncFinishesSettling):
            self.afinish_settling = cast(AsyncFinishesSettling, store).afinish_settling
        else:
            self.afinish_settling = in_thread(self.finish_settling)

    def __repr__(self) -> str:
        return f"<StoreCalls store={self.store!r}>"

    def _no_bind(self, token_id: str, task_id: str, ttl: float) -> bool:
        warn_once("bind", f"{self.store!r} cannot bind tokens to their task.")
        return True

    def _settle_then_finish(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        if self._settle is not None:
            try:
                self._settle(task_id, by=by)
            except Exception:
                logger.exception("could not settle the expected task %s", task_id)
        return self.finish(key, token=token, error=error)

    async def _asettle_then_finish(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        if self._asettle is not None:
            try:
                await self._asettle(task_id, by=by)
            except Exception:
                logger.exception("could not settle the expected task %s", task_id)
        return await self.afinish(key, token=token, error=error)
