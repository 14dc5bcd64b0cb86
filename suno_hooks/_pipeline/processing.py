"""Processing an admitted delivery against the store: bind a sole token, claim, build the
event, run the receivers under the lease, settle the expected task and record done or failed.

`process` and `aprocess` are the two drivers; they differ only where they touch the store and
the signal receivers.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from .._callbacks.parsing import build_event
from .._security.tokens import TokenClaims
from ..errors import HandlerError, InProgress, InvalidToken, ReplayedSignature, StoreUnavailable
from ..events import Event, EventSource
from ..leases import Lease
from ..outcome import Outcome
from ..stores import AsyncBindsTokens, AsyncStore, BindsTokens, Claim, ClaimResult, Delivery
from ..stores.conformance import conforms
from .admission import Admitted
from .config import warn_once
from .dispatch import reaches_a_receiver

if TYPE_CHECKING:
    from .parts import ReceiverParts

__all__ = [
    "NO_RECEIVER",
    "aclaim_or_answer",
    "adispatch",
    "aget",
    "aprocess",
    "event_for",
    "process",
    "store_error",
]

logger = logging.getLogger("suno_hooks")

# Bodies up to this size build their event on the loop; larger ones (their lenient repair can
# take milliseconds) in a worker thread.
INLINE_EVENT_BYTES = 64 * 1024
_PARSE_ERROR = "suno-hooks could not build the event; see the log"
_OTHER_TASK = "This callback URL token was already used for another task."

NO_RECEIVER = "no_receiver"
"""The error kept on a terminal delivery that reached no handler (none connected, or a weakly
referenced one that was garbage-collected): it stays `failed`, replayable, and the sender is still
answered `received`."""


def process(receiver: ReceiverParts, admitted: Admitted | Outcome, sender: Any) -> Outcome:
    """Claim an admitted delivery and, when it is new, dispatch and finish it; the answer."""
    if isinstance(admitted, Outcome):
        return admitted
    outcome = claim_or_answer(receiver, admitted)
    if outcome is None:
        outcome = _answer_dispatch(receiver, *dispatch(receiver, admitted, sender))
    outcome.delivery = admitted.delivery
    return outcome


async def aprocess(receiver: ReceiverParts, admitted: Admitted | Outcome, sender: Any) -> Outcome:
    """`process` on an event loop."""
    if isinstance(admitted, Outcome):
        return admitted
    outcome = await aclaim_or_answer(receiver, admitted)
    if outcome is None:
        outcome = _answer_dispatch(receiver, *await adispatch(receiver, admitted, sender))
    outcome.delivery = admitted.delivery
    return outcome


def claim_or_answer(receiver: ReceiverParts, admitted: Admitted) -> Outcome | None:
    """Claim the delivery; None when it is new (to dispatch), else the answer to give."""
    if admitted.sole_token is not None:
        _bind_token(receiver, admitted.sole_token, admitted.delivery.task_id)
    try:
        claim = receiver.store.claim(
            admitted.delivery, lease=receiver.lease, replay=admitted.replay
        )
    except Exception as exc:
        raise store_error(exc) from None
    return _answer_claim(receiver, admitted, claim)


async def aclaim_or_answer(receiver: ReceiverParts, admitted: Admitted) -> Outcome | None:
    """`claim_or_answer` on an event loop."""
    delivery, replay = admitted.delivery, admitted.replay
    if admitted.sole_token is not None:
        await _abind_token(receiver, admitted.sole_token, delivery.task_id)
    try:
        if receiver._async_store:
            store: AsyncStore = receiver.store  # type: ignore[assignment]
            claim = await store.aclaim(delivery, lease=receiver.lease, replay=replay)
        else:
            claim = await asyncio.to_thread(
                receiver.store.claim, delivery, lease=receiver.lease, replay=replay
            )
    except Exception as exc:
        raise store_error(exc) from None
    return _answer_claim(receiver, admitted, claim)


def dispatch(
    receiver: ReceiverParts, admitted: Admitted, sender: Any
) -> tuple[Event | None, str | None]:
    """Build the event, run the receivers, record done or failed; the event and the error."""
    event = event_for(admitted)
    lease = admitted.lease
    assert lease is not None
    error = _refusal(receiver, event, sender)
    if event is not None and error is None:
        bound = lease.bind()
        try:
            error = _joined(receiver.dispatcher.send(sender, event))
        finally:
            lease.unbind(bound)
    _finish(admitted, lease, error)
    return event, error


async def adispatch(
    receiver: ReceiverParts, admitted: Admitted, sender: Any
) -> tuple[Event | None, str | None]:
    """`dispatch` on an event loop."""
    if len(admitted.delivery.body) <= INLINE_EVENT_BYTES:
        event = event_for(admitted)
    else:
        event = await asyncio.to_thread(event_for, admitted)
    lease = admitted.lease
    assert lease is not None
    error = _refusal(receiver, event, sender)
    if event is not None and error is None:
        bound = lease.bind()
        try:
            error = _joined(await receiver.dispatcher.asend(sender, event))
        finally:
            lease.unbind(bound)
    delivery = admitted.delivery
    try:
        await lease.afinish(error, settles=_settles(delivery), by=delivery.source)
    except Exception as exc:
        raise _unrecorded(admitted, exc) from None
    return event, error


def _refusal(receiver: ReceiverParts, event: Event | None, sender: Any) -> str | None:
    """Why a delivery is finished without dispatching: a body that no longer parses, or a
    terminal event no handler would hear; None when it is dispatched."""
    if event is None:
        return _PARSE_ERROR
    return NO_RECEIVER if _unheard(receiver, event, sender) else None


def _unheard(receiver: ReceiverParts, event: Event, sender: Any) -> bool:
    """True, with a warning, for a completed or failed event that no handler of its signal or
    of `callback_received` would hear; progress nobody listens to is simply done."""
    if event.status == "progress" or reaches_a_receiver(receiver.dispatcher, sender, event):
        return False
    logger.warning(
        "no handler is connected for %s (task_%s or callback_received): kept as failed "
        "(no_receiver) for replay; connect one, with weak=False when it is defined in a function",
        event.dedupe_key,
        event.status,
    )
    return True


def _finish(admitted: Admitted, lease: Lease, error: str | None) -> None:
    """Record done or failed, settling a terminal delivery's expected task with it."""
    delivery = admitted.delivery
    try:
        lease.finish(error, settles=_settles(delivery), by=delivery.source)
    except Exception as exc:
        raise _unrecorded(admitted, exc) from None


def _settles(delivery: Delivery) -> str | None:
    """The expected task a delivery settles when it is finished: its own, once terminal."""
    return delivery.task_id if delivery.terminal else None


async def aget(receiver: ReceiverParts, key: str) -> Delivery | None:
    """The kept delivery `key` (or None), read without blocking the loop."""
    if receiver._async_store:
        store: AsyncStore = receiver.store  # type: ignore[assignment]
        return await store.aget(key)
    return await asyncio.to_thread(receiver.store.get, key)


def _bind_token(receiver: ReceiverParts, token: TokenClaims, task_id: str) -> None:
    """Refuse a token already bound to another task (token-only requests)."""
    store = receiver.store
    if not conforms(store, BindsTokens):
        warn_once("bind", f"{store!r} cannot bind tokens to their task.")
        return
    try:
        bound = cast(BindsTokens, store).bind_token(token.token_id, task_id, token.expires_in)
    except Exception as exc:
        raise store_error(exc) from None
    if not bound:
        raise InvalidToken(_OTHER_TASK)


async def _abind_token(receiver: ReceiverParts, token: TokenClaims, task_id: str) -> None:
    store = receiver.store
    if not conforms(store, AsyncBindsTokens):
        await asyncio.to_thread(_bind_token, receiver, token, task_id)
        return
    try:
        binds = cast(AsyncBindsTokens, store)
        bound = await binds.abind_token(token.token_id, task_id, token.expires_in)
    except Exception as exc:
        raise store_error(exc) from None
    if not bound:
        raise InvalidToken(_OTHER_TASK)


def event_for(admitted: Admitted) -> Event | None:
    """The event for an admitted delivery, or None (logged) when it cannot be built."""
    delivery = admitted.delivery
    try:
        return build_event(
            admitted.found,
            feature=delivery.feature,
            context=delivery.context,
            received_at=datetime.fromtimestamp(delivery.received_at, timezone.utc),
            kind=delivery.kind,  # type: ignore[arg-type]
            source=cast(EventSource, admitted.source or delivery.source),
        )
    except Exception:
        logger.exception("could not build the event for %s", delivery.key)
        return None


def _answer_claim(receiver: ReceiverParts, admitted: Admitted, claim: Claim) -> Outcome | None:
    result = claim.result
    if result is ClaimResult.NEW:
        admitted.lease = Lease(receiver.store, admitted.delivery.key, claim.token, receiver.lease)
        return None
    if result is ClaimResult.DUPLICATE:
        return Outcome.accepted("duplicate")
    if result is ClaimResult.STALE:
        return Outcome.accepted("stale")
    if result is ClaimResult.IN_PROGRESS:
        raise InProgress()
    raise ReplayedSignature()


def _answer_dispatch(receiver: ReceiverParts, event: Event | None, error: str | None) -> Outcome:
    if error is not None and error != NO_RECEIVER and receiver.retry_on_error:
        failed = Outcome.rejected(HandlerError())
        failed.event = event
        return failed
    return Outcome.accepted("received", event)


def store_error(exc: Exception) -> StoreUnavailable:
    """Log a store failure and return the 503 that answers it."""
    logger.error("store unavailable: %s: %s", type(exc).__name__, exc)
    return StoreUnavailable()


def _unrecorded(admitted: Admitted, exc: Exception) -> StoreUnavailable:
    """The answer when the outcome could not be written after the handlers ran: 503, so the
    sender retries. The delivery stays `processing` until its lease ends (then `abandoned`),
    and the retry or a replay runs the handlers again."""
    logger.error(
        "could not record the outcome of %s (%s: %s); answering 503 so the sender "
        "retries once the lease ends",
        admitted.delivery.key,
        type(exc).__name__,
        exc,
    )
    return StoreUnavailable()


def _joined(failures: list[str]) -> str | None:
    return "; ".join(failures)[:1000] if failures else None
