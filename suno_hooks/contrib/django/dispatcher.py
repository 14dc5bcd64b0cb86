"""`DjangoDispatcher`: sends the Django signals robustly, then the core's blinker signals.

A receiver that raises never stops the others and never breaks the HTTP answer: its failure is
returned (as `describe_failure` words it) so the delivery is kept as `failed` for replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from django.dispatch import Signal

from ...dispatch import BlinkerDispatcher, Dispatcher, describe_failure
from ...events import Event
from . import signals

__all__ = ["DjangoDispatcher"]

logger = logging.getLogger("suno_hooks")


def _signals_for(event: Event) -> tuple[Signal, Signal]:
    if event.status == "progress":
        return signals.callback_received, signals.task_progress
    if event.status == "completed":
        return signals.callback_received, signals.task_completed
    return signals.callback_received, signals.task_failed


def _failures(responses: Sequence[tuple[Any, Any]]) -> list[str]:
    return [
        describe_failure(receiver, result)
        for receiver, result in responses
        if isinstance(result, BaseException)
    ]


class DjangoDispatcher:
    """Sends `callback_received` and the stage signal as Django signals, then hands the event
    to `also` (by default the core's `BlinkerDispatcher`, so blinker receivers keep working)."""

    def __init__(self, also: Dispatcher | None = None) -> None:
        self.also: Dispatcher | None = BlinkerDispatcher() if also is None else also
        self._pending: set[asyncio.Task[Any]] = set()

    def send(self, sender: Any, event: Event) -> list[str]:
        """Call every receiver (async ones through `async_to_sync`); collect their failures."""
        failures: list[str] = []
        for signal in _signals_for(event):
            try:
                failures.extend(_failures(signal.send_robust(sender, event=event)))
            except Exception as exc:  # Django's own failure logging can raise
                failures.append(describe_failure(signal.send_robust, exc))
        if self.also is not None:
            failures.extend(self.also.send(sender, event))
        return failures

    async def asend(self, sender: Any, event: Event) -> list[str]:
        """Await every receiver (sync ones in a worker thread); collect their failures."""
        failures: list[str] = []
        for signal in _signals_for(event):
            try:
                failures.extend(_failures(await signal.asend_robust(sender, event=event)))
            except Exception as exc:  # Django's own failure logging can raise
                failures.append(describe_failure(signal.asend_robust, exc))
        if self.also is not None:
            failures.extend(await self.also.asend(sender, event))
        return failures

    def rejected(
        self, sender: Any, *, error: str, status: int, detail: str, peer: str | None
    ) -> None:
        """Send `callback_rejected`; on an event loop it is scheduled with `asend_robust`."""
        kwargs = {"error": error, "status": status, "detail": detail, "peer": peer}
        if signals.callback_rejected.has_listeners(sender):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                try:
                    _log_failures(signals.callback_rejected.send_robust(sender, **kwargs))
                except Exception:
                    logger.exception("callback_rejected could not be sent")
            else:
                task = loop.create_task(self._arejected(sender, kwargs))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        if self.also is not None:
            self.also.rejected(sender, error=error, status=status, detail=detail, peer=peer)

    async def arejected(
        self, sender: Any, *, error: str, status: int, detail: str, peer: str | None
    ) -> None:
        """`rejected` on an event loop: the Django signal with `asend_robust`, then `also`'s
        monitors (sync ones in a worker thread)."""
        kwargs: dict[str, Any] = {"error": error, "status": status, "detail": detail, "peer": peer}
        if signals.callback_rejected.has_listeners(sender):
            await self._arejected(sender, kwargs)
        if self.also is None:
            return
        arejected = getattr(self.also, "arejected", None)
        if arejected is None:
            self.also.rejected(sender, error=error, status=status, detail=detail, peer=peer)
        else:
            await arejected(sender, **kwargs)

    async def settle(self) -> None:
        """Wait for the `callback_rejected` sends scheduled on this loop (the async view calls
        it before answering, so monitors have run when the response leaves)."""
        loop = asyncio.get_running_loop()
        mine = [task for task in self._pending if task.get_loop() is loop]
        if mine:
            await asyncio.gather(*mine, return_exceptions=True)

    async def _arejected(self, sender: Any, kwargs: dict[str, Any]) -> None:
        try:
            _log_failures(await signals.callback_rejected.asend_robust(sender, **kwargs))
        except Exception:
            logger.exception("callback_rejected could not be sent")


def _log_failures(responses: Sequence[tuple[Any, Any]]) -> None:
    for failure in _failures(responses):
        logger.error("callback_rejected receiver failed: %s", failure)
