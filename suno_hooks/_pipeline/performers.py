"""`Performer`: carries out a plan's steps for one receiver, blocking (`perform`) or awaited
(`aperform`). These are the only parts of the pipeline written twice: each is one store call or
one signal send, bound once to the receiver's store operations and dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..events import Event
from ..outcome import Outcome
from ..stores import Claim, Delivery
from .dispatch import Dispatcher
from .processing import event_for
from .steps import (
    BindToken,
    BuildEvent,
    ClaimLease,
    FinishLease,
    GetDelivery,
    Refuse,
    Reopen,
    SendSignals,
    Step,
)
from .store_calls import StoreCalls
from .trusted import reopened

__all__ = ["Performer"]


class Performer:
    """Performs each step with the store operations in `calls` and with `dispatcher`; the
    step's type picks the performer from a table built once."""

    __slots__ = ("_async", "_sync", "arejected", "calls", "dispatcher")

    def __init__(self, calls: StoreCalls, dispatcher: Dispatcher) -> None:
        self.calls = calls
        self.dispatcher = dispatcher
        arejected = getattr(dispatcher, "arejected", None)
        self.arejected: Callable[..., Awaitable[None]] = (
            self._arefuse_in_line if arejected is None else arejected
        )
        self._sync: dict[type[Step], Callable[[Any], Any]] = {
            BindToken: self._bind,
            ClaimLease: self._claim,
            BuildEvent: self._build,
            SendSignals: self._send,
            FinishLease: self._finish,
            GetDelivery: self._get,
            Reopen: self._reopen,
            Refuse: self._refuse,
        }
        self._async: dict[type[Step], Callable[[Any], Awaitable[Any]]] = {
            BindToken: self._abind,
            ClaimLease: self._aclaim,
            BuildEvent: self._abuild,
            SendSignals: self._asend,
            FinishLease: self._afinish,
            GetDelivery: self._aget,
            Reopen: self._areopen,
            Refuse: self._arefuse,
        }

    def perform(self, step: Step) -> Any:
        """Carry out `step` with blocking calls; its result."""
        return self._sync[type(step)](step)

    def aperform(self, step: Step) -> Awaitable[Any]:
        """Start `step` on the event loop; an awaitable of its result."""
        return self._async[type(step)](step)

    def _bind(self, step: BindToken) -> bool:
        return self.calls.bind_token(step.token_id, step.task_id, step.ttl)

    def _abind(self, step: BindToken) -> Awaitable[bool]:
        return self.calls.abind_token(step.token_id, step.task_id, step.ttl)

    def _claim(self, step: ClaimLease) -> Claim:
        return self.calls.claim(step.delivery, lease=step.seconds, replay=step.replay)

    def _aclaim(self, step: ClaimLease) -> Awaitable[Claim]:
        return self.calls.aclaim(step.delivery, lease=step.seconds, replay=step.replay)

    def _build(self, step: BuildEvent) -> Event | None:
        return event_for(step.admitted)

    def _abuild(self, step: BuildEvent) -> Awaitable[Event | None]:
        return asyncio.to_thread(event_for, step.admitted)

    def _send(self, step: SendSignals) -> list[str]:
        return self.dispatcher.send(step.sender, step.event)

    def _asend(self, step: SendSignals) -> Awaitable[list[str]]:
        return self.dispatcher.asend(step.sender, step.event)

    def _finish(self, step: FinishLease) -> bool:
        return step.lease.finish(step.error, settles=step.settles, by=step.by)

    def _afinish(self, step: FinishLease) -> Awaitable[bool]:
        return step.lease.afinish(step.error, settles=step.settles, by=step.by)

    def _get(self, step: GetDelivery) -> Delivery | None:
        return self.calls.get(step.key)

    def _aget(self, step: GetDelivery) -> Awaitable[Delivery | None]:
        return self.calls.aget(step.key)

    def _reopen(self, step: Reopen) -> Outcome | None:
        return reopened(self.calls.store, step.kept)

    def _areopen(self, step: Reopen) -> Awaitable[Outcome | None]:
        return asyncio.to_thread(reopened, self.calls.store, step.kept)

    def _refuse(self, step: Refuse) -> None:
        error = step.error
        self.dispatcher.rejected(
            step.sender, error=error.code, status=error.status, detail=error.detail, peer=step.peer
        )

    def _arefuse(self, step: Refuse) -> Awaitable[None]:
        error = step.error
        return self.arejected(
            step.sender, error=error.code, status=error.status, detail=error.detail, peer=step.peer
        )

    async def _arefuse_in_line(self, sender: Any, **named: Any) -> None:
        # A dispatcher without `arejected` tells its monitors synchronously, as on WSGI.
        self.dispatcher.rejected(sender, **named)
