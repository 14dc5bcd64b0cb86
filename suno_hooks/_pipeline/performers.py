"""The performers of a plan's steps, bound once per receiver: `blocking` ones for `drive`, and
`awaiting` ones (each returns an awaitable) for `adrive`. They are the only part of the pipeline
that exists twice, and each is one store call, one signal send or one worker-thread hop."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import ConfigurationError
from ..leases import Lease
from .dispatch import Dispatcher, as_finishing
from .processing import event_for
from .steps import Performers
from .store_calls import StoreCalls, in_thread
from .trusted import reopened

__all__ = ["awaiting", "blocking"]

_R = TypeVar("_R")


def _no_ring(key: str) -> bool:
    """The ring of a receiver without a hand-off: it never queues, so nothing rings."""
    raise ConfigurationError("this receiver has no hand-off to ring.")


def _cannot_queue(*args: Any, **kwargs: Any) -> Any:
    """What a store without `queue` does when asked to queue: refuse, clearly."""
    raise ConfigurationError("this store cannot queue deliveries for a hand-off.")


def _cannot_finish(*args: Any, **kwargs: Any) -> Any:
    """What a dispatcher that cannot hold the outcome in its handlers' transaction does when
    asked to: refuse, clearly (the plan asks only a `FinishingDispatcher`)."""
    raise ConfigurationError("this dispatcher cannot record the outcome with its handlers.")


def blocking(
    calls: StoreCalls, dispatcher: Dispatcher, ring: Callable[[str], bool] = _no_ring
) -> Performers:
    """The performers `drive` runs: the store's and the dispatcher's blocking calls, and `ring`
    (which rings the receiver's hand-off, logging a failure)."""
    finishing = as_finishing(dispatcher)
    return Performers(
        bind_token=calls.bind_token,
        build_event=event_for,
        claim=calls.claim,
        finish=Lease.finish,
        get=calls.get,
        rejected=dispatcher.rejected,
        reopen=functools.partial(reopened, calls.store),
        send=dispatcher.send,
        send_finishing=_cannot_finish if finishing is None else finishing.send_finishing,
        queue=calls.queue or _cannot_queue,
        ring=ring,
        sweepable=calls.sweepable or _cannot_queue,
        note_ring=calls.note_ring or _cannot_queue,
    )


def awaiting(
    calls: StoreCalls,
    dispatcher: Dispatcher,
    ring: Callable[[str], bool] = _no_ring,
    *,
    ring_blocks: bool = False,
) -> Performers:
    """The performers `adrive` awaits: native coroutines where the store and dispatcher have
    them, the blocking calls in a worker thread where they do not (chosen once, here). A ring
    that writes or talks to a broker in the request (`ring_blocks`) runs in a worker thread;
    any other runs on the loop (an in-process one starts its task there, one with a sending
    thread hands it the key)."""
    arejected: Callable[..., Awaitable[None]] | None = getattr(dispatcher, "arejected", None)
    finishing = as_finishing(dispatcher)
    return Performers(
        bind_token=calls.abind_token,
        build_event=in_thread(event_for),
        claim=calls.aclaim,
        finish=Lease.afinish,
        get=calls.aget,
        rejected=_in_line(dispatcher.rejected) if arejected is None else arejected,
        reopen=in_thread(functools.partial(reopened, calls.store)),
        send=dispatcher.asend,
        send_finishing=(
            in_thread(_cannot_finish) if finishing is None else finishing.asend_finishing
        ),
        queue=calls.aqueue or in_thread(_cannot_queue),
        ring=in_thread(ring) if ring_blocks else _in_line(ring),
        sweepable=calls.asweepable or in_thread(_cannot_queue),
        note_ring=calls.anote_ring or in_thread(_cannot_queue),
    )


def _in_line(call: Callable[..., _R]) -> Callable[..., Awaitable[_R]]:
    """`call` run on the loop itself (a dispatcher without `arejected` tells its monitors
    synchronously, as on WSGI; an in-process ring starts a task on the loop)."""

    async def called(*args: Any, **kwargs: Any) -> _R:
        return call(*args, **kwargs)

    return called
