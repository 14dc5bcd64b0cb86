"""`DjangoDispatcher`: sends the Django signals robustly, then the core's blinker signals.

A receiver that raises never stops the others and never breaks the HTTP answer: its failure is
returned (as `describe_failure` words it) so the delivery is kept as `failed` for replay. All the
receivers of one delivery run in one transaction on the store's database (a savepoint inside an
outer one): when any of them fails, their writes are rolled back together, so a replay runs them
all again from scratch, and the inbox's own writes, made outside it, are never rolled back. When
they all succeed, wrote to that database, and the store is the ORM store on it, the delivery's
`done` mark is written in the same transaction: their writes and the mark commit together or not
at all, so a crash never leaves the effects applied and the delivery replayable (exactly-once
effects for writes to the store's database). A project without a database (`DATABASES = {}`)
runs them without a transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.dispatch import Signal

from ..._pipeline.dispatch import (
    BlinkerDispatcher,
    Dispatcher,
    Finish,
    describe_failure,
    reaches_a_receiver,
)
from ...events import Event
from . import signals
from ._transaction_work import work_check

__all__ = ["DjangoDispatcher"]

logger = logging.getLogger("suno_hooks")

_NO_DATABASE = "django.db.backends.dummy"
"""The engine Django puts in place of an empty `DATABASES`: no database at all."""


def is_configured(databases: Mapping[str, Any], alias: str) -> bool:
    """True when `databases` (a `DATABASES` setting) configures `alias` as a real database, not
    the stand-in Django adds to an empty `DATABASES`."""
    database = databases.get(alias)
    return isinstance(database, Mapping) and database.get("ENGINE") != _NO_DATABASE


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


def _send_failure(send: Callable[..., Any], exc: BaseException) -> str:
    """A failure of `send_robust` itself: Django's failure logging raises for a receiver object
    without `__qualname__`, and the receiver's own error is then the exception's context."""
    cause = exc.__context__
    if cause is None:
        return describe_failure(send, exc)
    return describe_failure(send, exc) + f" (while reporting {type(cause).__name__}: {cause})"


async def _on_django_thread(call: Callable[[], list[str]]) -> list[str]:
    """Run sync blinker receivers where Django runs sync code for this context: inside a
    delivery, the thread (and connection) that holds the delivery's transaction."""
    return await sync_to_async(call)()


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _through_django_loop(awaitable: Awaitable[Any]) -> Any:
    """Run an async blinker receiver from sync code with `async_to_sync`, so the sync code it
    awaits (`sync_to_async`, the async ORM) comes back to this thread and its transaction."""
    return async_to_sync(_await)(awaitable)


class DjangoDispatcher:
    """Sends `callback_received` and the stage signal as Django signals, then hands the event
    to `also` (by default the core's `BlinkerDispatcher`, so blinker receivers keep working).
    `using` is the database whose transaction one delivery's receivers run in (the app sets the
    ORM store's); left None, it is the default database, or none when the project has none."""

    def __init__(self, also: Dispatcher | None = None, *, using: str | None = None) -> None:
        self.using = using
        self.also: Dispatcher | None = (
            BlinkerDispatcher(to_thread=_on_django_thread, run_async=_through_django_loop)
            if also is None
            else also
        )
        self._pending: set[asyncio.Task[Any]] = set()

    def database(self) -> str | None:
        """The alias the receivers' transaction opens on: `using` when set, else the default
        database when `DATABASES` configures one; None runs the receivers without one."""
        if self.using is not None:
            return self.using
        return DEFAULT_DB_ALIAS if is_configured(connections.settings, DEFAULT_DB_ALIAS) else None

    def transaction(self) -> AbstractContextManager[Any]:
        """The transaction one delivery's receivers run in: `atomic` on `database()` (a
        savepoint when the caller is already inside one), or nothing without a database."""
        using = self.database()
        return nullcontext() if using is None else transaction.atomic(using=using)

    def receives(self, sender: Any, event: Event) -> bool:
        """True when a Django or (through `also`) a blinker receiver would get the event."""
        if any(signal.has_listeners(sender) for signal in _signals_for(event)):
            return True
        return self.also is not None and reaches_a_receiver(self.also, sender, event)

    def send(self, sender: Any, event: Event) -> list[str]:
        """Call every receiver in one transaction (async ones through `async_to_sync`); their
        failures."""
        return self.send_finishing(sender, event, None)[0]

    async def asend(self, sender: Any, event: Event) -> list[str]:
        """`send` on an event loop: the transaction is opened in Django's thread for this
        context, and `asend_robust` is driven from there, so the sync receivers it runs through
        `sync_to_async` come back to that thread; async receivers are awaited on the loop."""
        return (await self.asend_finishing(sender, event, None))[0]

    def send_finishing(
        self, sender: Any, event: Event, finish: Finish | None
    ) -> tuple[list[str], bool | None]:
        """`send`, then, when no receiver failed, they did database work (see `work_check`)
        and `finish`'s store is the ORM store on `database()`, `finish` in the receivers'
        transaction: the failures, and whether `finish` was recorded (None when it was not
        tried; False when its lease was lost, and the receivers' writes were rolled back with
        it)."""
        if not self.receives(sender, event):
            return [], None
        joined = self._joinable(finish)
        return self._in_transaction(lambda: self._send_all(sender, event), joined)

    async def asend_finishing(
        self, sender: Any, event: Event, finish: Finish | None
    ) -> tuple[list[str], bool | None]:
        """`send_finishing` on an event loop, as `asend` sends: `finish` is recorded with the
        store's blocking calls in the thread that holds the transaction."""
        if not self.receives(sender, event):
            return [], None
        if self.database() is None:
            return await self._asend_all(sender, event), None
        joined = self._joinable(finish)
        in_thread = sync_to_async(self._in_transaction)
        return await in_thread(lambda: async_to_sync(self._asend_all)(sender, event), joined)

    def _joinable(self, finish: Finish | None) -> Finish | None:
        """`finish` when its store writes on the receivers' database (so both can commit in
        one transaction), else None: the pipeline records it in the store's own."""
        if finish is None:
            return None
        from .store import DjangoStore  # the models load once the apps are ready

        store = finish.lease.store
        return finish if isinstance(store, DjangoStore) and store.using == self.database() else None

    def _in_transaction(
        self, send: Callable[[], list[str]], finish: Finish | None = None
    ) -> tuple[list[str], bool | None]:
        """Run `send` inside `transaction()`, rolled back when a receiver failed; when none
        did and they wrote, `finish` in it too, and all rolled back when its lease was lost. A
        transaction that cannot open or commit is a failure, and then nothing of it was
        recorded. Without a database, `send` runs as is."""
        using = self.database()
        if using is None:
            return send(), None
        failures: list[str] = []
        recorded: bool | None = None
        try:
            with self.transaction():
                worked = None if finish is None else work_check(using)
                failures = send()
                if failures:
                    transaction.set_rollback(True, using=using)
                elif finish is not None and worked is not None and worked():
                    recorded = finish.record()
                    if not recorded:
                        transaction.set_rollback(True, using=using)
        except Exception as exc:
            logger.exception("the receivers' transaction failed")
            failures.append(describe_failure(self.transaction, exc))
            recorded = None
        return failures, recorded

    def _send_all(self, sender: Any, event: Event) -> list[str]:
        failures: list[str] = []
        for signal in _signals_for(event):
            try:
                failures.extend(_failures(signal.send_robust(sender, event=event)))
            except Exception as exc:
                failures.append(_send_failure(signal.send_robust, exc))
        if self.also is not None:
            failures.extend(self.also.send(sender, event))
        return failures

    async def _asend_all(self, sender: Any, event: Event) -> list[str]:
        failures: list[str] = []
        for signal in _signals_for(event):
            try:
                failures.extend(_failures(await signal.asend_robust(sender, event=event)))
            except Exception as exc:
                failures.append(_send_failure(signal.asend_robust, exc))
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
