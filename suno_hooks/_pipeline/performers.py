"""The performers of a plan's steps, bound once per receiver: `blocking` ones for `drive`, and
`awaiting` ones (each returns an awaitable) for `adrive`. They are the only part of the pipeline
that exists twice, and each is one store call, one signal send or one worker-thread hop."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from ..leases import Lease
from .dispatch import Dispatcher
from .processing import event_for
from .steps import Performers
from .store_calls import StoreCalls, in_thread
from .trusted import reopened

__all__ = ["awaiting", "blocking"]


def blocking(calls: StoreCalls, dispatcher: Dispatcher) -> Performers:
    """The performers `drive` runs: the store's and the dispatcher's blocking calls."""
    return Performers(
        bind_token=calls.bind_token,
        build_event=event_for,
        claim=calls.claim,
        finish=Lease.finish,
        get=calls.get,
        rejected=dispatcher.rejected,
        reopen=functools.partial(reopened, calls.store),
        send=dispatcher.send,
    )


def awaiting(calls: StoreCalls, dispatcher: Dispatcher) -> Performers:
    """The performers `adrive` awaits: native coroutines where the store and dispatcher have
    them, the blocking calls in a worker thread where they do not (chosen once, here)."""
    arejected: Callable[..., Awaitable[None]] | None = getattr(dispatcher, "arejected", None)
    return Performers(
        bind_token=calls.abind_token,
        build_event=in_thread(event_for),
        claim=calls.aclaim,
        finish=Lease.afinish,
        get=calls.aget,
        rejected=_in_line(dispatcher.rejected) if arejected is None else arejected,
        reopen=in_thread(functools.partial(reopened, calls.store)),
        send=dispatcher.asend,
    )


def _in_line(rejected: Callable[..., None]) -> Callable[..., Awaitable[None]]:
    """A dispatcher without `arejected` tells its monitors synchronously, as on WSGI."""

    async def told(*args: Any, **kwargs: Any) -> None:
        rejected(*args, **kwargs)

    return told
