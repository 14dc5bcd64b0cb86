"""Signal emission: calls every connected receiver, sync or async, and collects their failures.

A receiver that raises never stops the others and never breaks the HTTP answer: its failure is
returned so the receiver can keep the delivery as `failed` for replay. On an event loop, sync
receivers run in the dispatcher's handler thread (consecutive ones share one hand-over) and async
ones on the loop, always in the receivers' order, so a blocking receiver never stalls the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from blinker import Signal

from .. import signals
from ..events import Event
from .handler_thread import HandlerThread
from .signal_receivers import ReceiverLookup, is_async

if TYPE_CHECKING:
    from ..leases import Lease

__all__ = [
    "BlinkerDispatcher",
    "Dispatcher",
    "Finish",
    "FinishingDispatcher",
    "as_finishing",
    "describe_failure",
    "reaches_a_receiver",
]

logger = logging.getLogger("suno_hooks")

_MAX_ERROR_LENGTH = 500


def describe_failure(receiver: Callable[..., Any], exc: BaseException) -> str:
    """One bounded line naming the receiver and its exception, kept in the inbox."""
    name = getattr(receiver, "__qualname__", None) or repr(receiver)
    text = f"{name}: {type(exc).__name__}: {exc}"
    return text[:_MAX_ERROR_LENGTH]


class Dispatcher(Protocol):
    """What the receiver needs to emit signals; framework adapters may supply their own."""

    def send(self, sender: Any, event: Event) -> list[str]:
        """Call every receiver of the event's signals; the failures, one line each."""
        ...

    async def asend(self, sender: Any, event: Event) -> list[str]:
        """`send` on an event loop: async receivers awaited, sync ones in a worker thread."""
        ...

    def rejected(
        self, sender: Any, *, error: str, status: int, detail: str, peer: str | None
    ) -> None:
        """Tell monitors that a request was refused; never raises."""
        ...


class Finish(Protocol):
    """A delivery's outcome as the pipeline hands it to a `FinishingDispatcher`: the `lease` it
    is recorded under, and `record()`, which records it with blocking store calls."""

    lease: Lease

    def record(self) -> bool:
        """Record the outcome; whether the lease still owned the delivery."""
        ...


class FinishingDispatcher(Dispatcher, Protocol):
    """A dispatcher whose handlers' transaction can hold the delivery's outcome too (the Django
    one, when the store writes to that database), so effects and the `done` mark commit
    together or not at all."""

    def send_finishing(
        self, sender: Any, event: Event, finish: Finish
    ) -> tuple[list[str], bool | None]:
        """`send`, then, when no receiver failed, `finish.record()` in their transaction where
        it can: the failures, and whether `finish` was recorded (None: it was not, so the
        caller records the outcome; False: the lease was lost, and the receivers' writes were
        rolled back with it)."""
        ...

    async def asend_finishing(
        self, sender: Any, event: Event, finish: Finish
    ) -> tuple[list[str], bool | None]:
        """`send_finishing` on an event loop."""
        ...


def as_finishing(dispatcher: Dispatcher) -> FinishingDispatcher | None:
    """`dispatcher` when it is a `FinishingDispatcher` (it has both of its methods), else None."""
    methods = ("send_finishing", "asend_finishing")
    if all(callable(getattr(dispatcher, name, None)) for name in methods):
        return cast(FinishingDispatcher, dispatcher)
    return None


def reaches_a_receiver(dispatcher: Dispatcher, sender: Any, event: Event) -> bool:
    """True when sending `event` would call at least one receiver; a dispatcher that cannot
    tell (no `receives` method) is assumed to reach one."""
    receives = getattr(dispatcher, "receives", None)
    return True if receives is None else bool(receives(sender, event))


_STAGE_SIGNALS: dict[str, Signal] = {
    "progress": signals.task_progress,
    "completed": signals.task_completed,
}


_lookup = ReceiverLookup(
    (signals.callback_received, signals.task_progress, signals.task_completed, signals.task_failed)
)

ThreadHop = Callable[[Callable[[], list[str]]], Awaitable[list[str]]]
"""Runs a batch of sync receivers off the event loop (by default in a `HandlerThread`)."""

AwaitableRunner = Callable[[Awaitable[Any]], Any]
"""Runs an async receiver's awaitable to completion from sync code (by default `asyncio.run`)."""


class BlinkerDispatcher:
    """Sends `callback_received` then the stage signal (`task_progress`/`completed`/`failed`).
    On an event loop, sync receivers run through `to_thread` (by default the dispatcher's own
    handler thread: one at a time, in the order deliveries reach it); on the sync path, async
    ones through `run_async` (the Django adapter's keep both on the thread that holds the
    delivery's transaction). `own_hooks` says whether either was given."""

    def __init__(
        self, *, to_thread: ThreadHop | None = None, run_async: AwaitableRunner | None = None
    ) -> None:
        self.own_hooks = to_thread is not None or run_async is not None
        self.to_thread: ThreadHop = HandlerThread().run if to_thread is None else to_thread
        self.run_async: AwaitableRunner = _run_awaitable if run_async is None else run_async

    def _targets(self, sender: Any, event: Event) -> list[tuple[Callable[..., Any], bool]]:
        """`(receiver, is_async)` for each receiver of the event's signals, in order."""
        stage = _STAGE_SIGNALS.get(event.status, signals.task_failed)
        if not signals.callback_received.receivers:
            return _lookup.receivers(stage, sender)
        found = _lookup.receivers(signals.callback_received, sender)
        found.extend(_lookup.receivers(stage, sender))
        return found

    def receives(self, sender: Any, event: Event) -> bool:
        """True when at least one receiver is connected for this event and sender."""
        return bool(self._targets(sender, event))

    def send(self, sender: Any, event: Event) -> list[str]:
        """Call every receiver; coroutine receivers are run to completion when no loop runs."""
        failures: list[str] = []
        for receiver, _ in self._targets(sender, event):
            try:
                result = receiver(sender, event=event)
                if result is not None and inspect.isawaitable(result):
                    self.run_async(result)
            except Exception as exc:
                logger.exception("receiver failed for %s", event.dedupe_key)
                failures.append(describe_failure(receiver, exc))
        return failures

    async def asend(self, sender: Any, event: Event) -> list[str]:
        """Call every receiver in order: async ones awaited on the loop, sync ones through
        `to_thread` (a run of consecutive sync receivers shares one hand-over)."""
        failures: list[str] = []
        named = {"event": event}
        pending: list[Callable[..., Any]] = []
        for receiver, asynchronous in self._targets(sender, event):
            if not asynchronous:
                pending.append(receiver)
                continue
            if pending:
                failures.extend(await self._in_thread(pending, sender, named, event.dedupe_key))
                pending = []
            try:
                await receiver(sender, event=event)
            except Exception as exc:
                logger.exception("receiver failed for %s", event.dedupe_key)
                failures.append(describe_failure(receiver, exc))
        if pending:
            failures.extend(await self._in_thread(pending, sender, named, event.dedupe_key))
        return failures

    def rejected(
        self, sender: Any, *, error: str, status: int, detail: str, peer: str | None
    ) -> None:
        """Send `callback_rejected`; a failing monitor is logged, never raised."""
        if not signals.callback_rejected.receivers:
            return
        for receiver in signals.callback_rejected.receivers_for(sender):
            try:
                result = receiver(sender, error=error, status=status, detail=detail, peer=peer)
                if inspect.isawaitable(result):
                    self.run_async(result)
            except Exception:
                logger.exception("callback_rejected receiver failed")

    async def _in_thread(
        self, receivers: list[Callable[..., Any]], sender: Any, named: dict[str, Any], label: str
    ) -> list[str]:
        """Call sync receivers in order through `to_thread`; the failures, one line each. An
        awaitable one of them returns is awaited on the loop before the next receiver runs."""
        loop = asyncio.get_running_loop()

        def call_each() -> list[str]:
            failures: list[str] = []
            for receiver in receivers:
                try:
                    result = receiver(sender, **named)
                    if result is not None and inspect.isawaitable(result):
                        asyncio.run_coroutine_threadsafe(_await(result), loop).result()
                except Exception as exc:
                    logger.exception("receiver failed for %s", label)
                    failures.append(describe_failure(receiver, exc))
            return failures

        return await self.to_thread(call_each)

    async def arejected(
        self, sender: Any, *, error: str, status: int, detail: str, peer: str | None
    ) -> None:
        """`rejected` on an event loop: async monitors awaited, sync ones through `to_thread`."""
        if not signals.callback_rejected.receivers:
            return
        named = {"error": error, "status": status, "detail": detail, "peer": peer}
        for receiver in signals.callback_rejected.receivers_for(sender):
            try:
                if is_async(receiver):
                    await receiver(sender, **named)
                else:
                    await self._in_thread([receiver], sender, named, "callback_rejected")
            except Exception:
                logger.exception("callback_rejected receiver failed")


def _run_awaitable(awaitable: Awaitable[Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    raise RuntimeError(
        "An async receiver cannot run on the synchronous path inside a running event loop; "
        "use Receiver.ahandle."
    )


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
