"""`Lease`: the fenced hold on one claimed delivery, shared by the receiver and its handlers.

While handlers run, `current_lease()` returns the delivery's lease, so a handler slower than
the receiver's `lease` can `extend` it. Only the claim's token can finish or extend it: once
another claim took the delivery over, both change nothing.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field
from typing import TypeGuard

from ._pipeline.store_calls import StoreCalls
from .stores import AsyncStore, Store
from .stores.conformance import conforms

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
    """A claimed delivery's key and fencing token in its store; `seconds` is the claim's lease.

    `calls` are the store's operations as the receiver resolved them when it was built; a lease
    made without them resolves its own."""

    store: Store
    key: str
    token: str
    seconds: float
    calls: StoreCalls = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.calls is None:
            object.__setattr__(self, "calls", StoreCalls(self.store))

    def extend(self, seconds: float | None = None) -> bool:
        """Keep the delivery `seconds` (default: the claim's lease) from now; False when the
        lease was lost to another claim, which then owns the delivery."""
        kept = self.calls.extend(self.key, token=self.token, lease=self._length(seconds))
        return self._kept(kept, "extend")

    async def aextend(self, seconds: float | None = None) -> bool:
        """`extend` without blocking the event loop."""
        kept = await self.calls.aextend(self.key, token=self.token, lease=self._length(seconds))
        return self._kept(kept, "extend")

    def finish(
        self, error: str | None, *, settles: str | None = None, by: str = "callback"
    ) -> bool:
        """Record done (`error=None`) or failed; False (and logged) for a stale owner. With
        `settles`, the expected task of that id is settled by `by` too: in the same write when
        the store is a `FinishesSettling`, else just before."""
        calls, key, token = self.calls, self.key, self.token
        if settles is None:
            kept = calls.finish(key, token=token, error=error)
        else:
            kept = calls.finish_settling(key, token=token, error=error, task_id=settles, by=by)
        return self._kept(kept, "finish")

    async def afinish(
        self, error: str | None, *, settles: str | None = None, by: str = "callback"
    ) -> bool:
        """`finish` without blocking the event loop."""
        calls, key, token = self.calls, self.key, self.token
        if settles is None:
            kept = await calls.afinish(key, token=token, error=error)
        else:
            kept = await calls.afinish_settling(
                key, token=token, error=error, task_id=settles, by=by
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
