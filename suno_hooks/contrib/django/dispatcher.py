"""`DjangoDispatcher`: sends the Django signals robustly, then the core's blinker signals.

A receiver that raises never stops the others and never breaks the HTTP answer: its failure is
returned (as `describe_failure` words it) so the delivery is kept as `failed` for replay. Each
sync receiver runs in its own transaction (a savepoint inside an outer one) on the store's
database, so a receiver's database error is rolled back with it and can never roll back or
poison the inbox's writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db import DEFAULT_DB_ALIAS, transaction
from django.dispatch import Signal

from ...dispatch import (
    BlinkerDispatcher,
    Dispatcher,
    Guard,
    describe_failure,
    reaches_a_receiver,
)
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
    to `also` (by default the core's `BlinkerDispatcher`, so blinker receivers keep working).
    `using` is the database whose transaction each sync receiver runs in (the store's)."""

    def __init__(self, also: Dispatcher | None = None, *, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self.also: Dispatcher | None = (
            BlinkerDispatcher(guard=self.transaction) if also is None else also
        )
        self._pending: set[asyncio.Task[Any]] = set()

    def transaction(self) -> AbstractContextManager[Any]:
        """The transaction one sync receiver runs in: `atomic` on `using` (a savepoint when
        the caller is already inside one)."""
        return transaction.atomic(using=self.using)

    def receives(self, sender: Any, event: Event) -> bool:
        """True when a Django or (through `also`) a blinker receiver would get the event."""
        if any(signal.has_listeners(sender) for signal in _signals_for(event)):
            return True
        return self.also is not None and reaches_a_receiver(self.also, sender, event)

    def send(self, sender: Any, event: Event) -> list[str]:
        """Call every receiver (async ones through `async_to_sync`); collect their failures."""
        failures: list[str] = []
        for signal in _signals_for(event):
            try:
                failures.extend(
                    _failures(_send_robust(signal, sender, self.transaction, event=event))
                )
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
                responses = await _asend_robust(signal, sender, self.transaction, event=event)
                failures.extend(_failures(responses))
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


def _send_robust(signal: Signal, sender: Any, guard: Guard, **named: Any) -> list[tuple[Any, Any]]:
    """`Signal.send_robust` with each sync receiver inside `guard()`; async receivers are
    awaited in turn through `async_to_sync`. Falls back to Django's own method when the
    receiver lookup it relies on is not there."""
    live = getattr(signal, "_live_receivers", None)
    if live is None:
        return signal.send_robust(sender, **named)
    sync_receivers, async_receivers = live(sender)
    responses = _call_robust(signal, sync_receivers, sender, named, guard)
    if async_receivers:
        responses.extend(async_to_sync(_await_robust)(signal, async_receivers, sender, named))
    return responses


async def _asend_robust(
    signal: Signal, sender: Any, guard: Guard, **named: Any
) -> list[tuple[Any, Any]]:
    """`Signal.asend_robust` without its task-per-receiver `gather`: sync receivers run together
    in one worker thread (each inside `guard()`), async ones are awaited in turn on the loop.
    Falls back to Django's own method when the receiver lookup it relies on is not there."""
    live = getattr(signal, "_live_receivers", None)
    if live is None:
        return await signal.asend_robust(sender, **named)
    sync_receivers, async_receivers = live(sender)
    responses: list[tuple[Any, Any]] = []
    if sync_receivers:
        responses.extend(
            await sync_to_async(_call_robust)(signal, sync_receivers, sender, named, guard)
        )
    responses.extend(await _await_robust(signal, async_receivers, sender, named))
    return responses


async def _await_robust(
    signal: Signal, receivers: Sequence[Any], sender: Any, named: dict[str, Any]
) -> list[tuple[Any, Any]]:
    responses: list[tuple[Any, Any]] = []
    for receiver in receivers:
        try:
            responses.append((receiver, await receiver(signal=signal, sender=sender, **named)))
        except Exception as exc:
            logger.exception("signal receiver failed")
            responses.append((receiver, exc))
    return responses


def _call_robust(
    signal: Signal, receivers: Sequence[Any], sender: Any, named: dict[str, Any], guard: Guard
) -> list[tuple[Any, Any]]:
    responses: list[tuple[Any, Any]] = []
    for receiver in receivers:
        try:
            with guard():
                responses.append((receiver, receiver(signal=signal, sender=sender, **named)))
        except Exception as exc:
            logger.exception("signal receiver failed")
            responses.append((receiver, exc))
    return responses


def _log_failures(responses: Sequence[tuple[Any, Any]]) -> None:
    for failure in _failures(responses):
        logger.error("callback_rejected receiver failed: %s", failure)
