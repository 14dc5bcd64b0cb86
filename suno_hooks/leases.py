"""`Lease`: the fenced hold on one claimed delivery, shared by the receiver and its handlers.

While handlers run, `current_lease()` returns the delivery's lease, so a handler slower than
the receiver's `lease` can `extend` it. Only the claim's token can finish or extend it: once
another claim took the delivery over, both change nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from typing import TypeGuard, cast

from .stores import AsyncStore, Store
from .stores.conformance import conforms
from .stores.tasks import (
    AsyncFinishesSettling,
    FinishesSettling,
    asettle_expected,
    settle_expected,
)

__all__ = ["Lease", "current_lease", "has_async_api"]

logger = logging.getLogger("suno_hooks")

_current: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
    "suno_hooks_lease", default=None
)


def has_async_api(store: object) -> TypeGuard[AsyncStore]:
    """True when `store` is an `AsyncStore` (decided once per class)."""
    return conforms(store, AsyncStore)


def current_lease() -> Lease | None:
    """The lease of the delivery whose handlers are running in this context, if any."""
    return _current.get()


@dataclass(frozen=True, slots=True)
class Lease:
    """A claimed delivery's key and fencing token in its store; `seconds` is the claim's lease."""

    store: Store
    key: str
    token: str
    seconds: float

    def extend(self, seconds: float | None = None) -> bool:
        """Keep the delivery `seconds` (default: the claim's lease) from now; False when the
        lease was lost to another claim, which then owns the delivery."""
        kept = self.store.extend(self.key, token=self.token, lease=self._length(seconds))
        return self._kept(kept, "extend")

    async def aextend(self, seconds: float | None = None) -> bool:
        """`extend` without blocking the event loop."""
        length = self._length(seconds)
        store = self.store
        if has_async_api(store):
            kept = await store.aextend(self.key, token=self.token, lease=length)
        else:
            kept = await asyncio.to_thread(
                self.store.extend, self.key, token=self.token, lease=length
            )
        return self._kept(kept, "extend")

    def finish(
        self, error: str | None, *, settles: str | None = None, by: str = "callback"
    ) -> bool:
        """Record done (`error=None`) or failed; False (and logged) for a stale owner. With
        `settles`, the expected task of that id is settled by `by` too: in the same write when
        the store is a `FinishesSettling`, else just before."""
        store = self.store
        if settles is None:
            kept = store.finish(self.key, token=self.token, error=error)
        elif conforms(store, FinishesSettling):
            kept = cast(FinishesSettling, store).finish_settling(
                self.key, token=self.token, error=error, task_id=settles, by=by
            )
        else:
            settle_expected(store, settles, by)
            kept = store.finish(self.key, token=self.token, error=error)
        return self._kept(kept, "finish")

    async def afinish(
        self, error: str | None, *, settles: str | None = None, by: str = "callback"
    ) -> bool:
        """`finish` without blocking the event loop."""
        store = self.store
        if settles is not None and not conforms(store, FinishesSettling):
            await asettle_expected(store, settles, by)
            settles = None
        if settles is None:
            if has_async_api(store):
                kept = await store.afinish(self.key, token=self.token, error=error)
            else:
                kept = await asyncio.to_thread(
                    store.finish, self.key, token=self.token, error=error
                )
        elif conforms(store, AsyncFinishesSettling):
            kept = await cast(AsyncFinishesSettling, store).afinish_settling(
                self.key, token=self.token, error=error, task_id=settles, by=by
            )
        else:
            kept = await asyncio.to_thread(
                cast(FinishesSettling, store).finish_settling,
                self.key,
                token=self.token,
                error=error,
                task_id=settles,
                by=by,
            )
        return self._kept(kept, "finish")

    def bind(self) -> contextvars.Token[Lease | None]:
        """Make this the `current_lease()` of the running context; reset with `unbind`."""
        return _current.set(self)

    @staticmethod
    def unbind(token: contextvars.Token[Lease | None]) -> None:
        """Restore the `current_lease()` seen before `bind`."""
        _current.reset(token)

    def _length(self, seconds: float | None) -> float:
        return self.seconds if seconds is None else float(seconds)

    def _kept(self, kept: bool, action: str) -> bool:
        if not kept:
            logger.warning(
                "%s of %s changed nothing: its lease was taken over by another "
                "claim (a handler outlived the lease; extend it or raise `lease`)",
                action,
                self.key,
            )
        return kept
