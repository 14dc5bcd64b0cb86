"""Processing an admitted delivery against the store, written once as plans: bind a sole
token, claim, build the event, run the handlers under the lease, then record done or failed and
settle the expected task in the same step (with a dispatcher that can, `done` in the handlers'
own transaction).

Each plan yields a step wherever it needs the store or the handlers (see `steps`); the receiver
runs it with `drive` or `adrive`. The plans compose: `process_plan` is `claim_plan` then
`dispatch_plan`, and a worker running a stored delivery claims it with `claim_plan` and
dispatches it with `dispatch_plan` as well.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from .._callbacks.parsing import build_event
from ..errors import HandlerError, InProgress, InvalidToken, ReplayedSignature, StoreUnavailable
from ..events import Event, EventSource
from ..leases import Lease
from ..outcome import Outcome
from ..stores import Claim, ClaimResult, Delivery
from .admission import Admitted
from .dispatch import reaches_a_receiver
from .steps import (
    BindToken,
    BuildEvent,
    ClaimLease,
    FinishLease,
    Plan,
    SendAndFinish,
    SendSignals,
)

if TYPE_CHECKING:
    from .parts import ReceiverParts

__all__ = [
    "INLINE_EVENT_BYTES",
    "NO_RECEIVER",
    "bind_plan",
    "claim_plan",
    "dispatch_plan",
    "event_for",
    "process_plan",
    "settled_answer",
    "store_error",
]

logger = logging.getLogger("suno_hooks")

INLINE_EVENT_BYTES = 64 * 1024
"""Bodies up to this size build their event where the plan runs; larger ones (their lenient
repair can take milliseconds) through a `BuildEvent` step, in a worker thread on an event loop."""
_PARSE_ERROR = "suno-hooks could not build the event; see the log"
_OTHER_TASK = "This callback URL token was already used for another task."

NO_RECEIVER = "no_receiver"
"""The error kept on a terminal delivery that reached no handler (none connected, or a weakly
referenced one that was garbage-collected): it stays `failed`, replayable, and the sender is still
answered `received`."""


def process_plan(
    receiver: ReceiverParts, admitted: Admitted | Outcome, sender: Any
) -> Plan[Outcome]:
    """Claim an admitted delivery and, when it is new, dispatch and finish it; the answer."""
    if isinstance(admitted, Outcome):
        return admitted
    outcome = yield from claim_plan(receiver, admitted)
    if outcome is None:
        event, error = yield from dispatch_plan(receiver, admitted, sender)
        outcome = _answer_dispatch(receiver, event, error)
    outcome.delivery = admitted.delivery
    return outcome


def claim_plan(receiver: ReceiverParts, admitted: Admitted) -> Plan[Outcome | None]:
    """Bind a sole token to its task, then claim the delivery; None when it is new (its lease
    is set on `admitted`, to dispatch), else the answer to give."""
    delivery = admitted.delivery
    yield from bind_plan(admitted)
    try:
        claim: Claim = yield ClaimLease(delivery, admitted.replay, receiver.lease)
    except Exception as exc:
        raise store_error(exc) from None
    return _answer_claim(receiver, admitted, claim)


def bind_plan(admitted: Admitted) -> Plan[None]:
    """Bind the token that is a request's only proof to the request's task in the store; an
    `InvalidToken` when it was bound to another task."""
    token = admitted.sole_token
    if token is None:
        return
    try:
        bound: bool = yield BindToken(token.token_id, admitted.delivery.task_id, token.expires_in)
    except Exception as exc:
        raise store_error(exc) from None
    if not bound:
        raise InvalidToken(_OTHER_TASK)


def dispatch_plan(
    receiver: ReceiverParts, admitted: Admitted, sender: Any
) -> Plan[tuple[Event | None, str | None]]:
    """Build the event, run the handlers under the claimed lease, record done or failed
    (settling a terminal delivery's expected task); the event and the handlers' error.

    A dispatcher that can records `done` in the transaction of the handlers' writes, so both
    commit or neither does; when its lease was lost meanwhile, neither did, and the answer is
    `InProgress` (the claim that took the delivery over runs it)."""
    delivery = admitted.delivery
    event: Event | None
    if len(delivery.body) <= INLINE_EVENT_BYTES:
        event = event_for(admitted)
    else:
        event = yield BuildEvent(admitted)
    lease = admitted.lease
    assert lease is not None
    settles = _settles(delivery)
    recorded: bool | None = None
    error = _refusal(receiver, event, sender)
    if event is not None and error is None:
        bound = lease.bind()
        try:
            if receiver._finishes_with_handlers:
                done = FinishLease(lease, None, settles, delivery.source)
                failures, recorded = yield SendAndFinish(sender, event, done)
            else:
                failures = yield SendSignals(sender, event)
            error = _joined(failures)
        finally:
            lease.unbind(bound)
    if recorded is None:
        try:
            yield FinishLease(lease, error, settles, delivery.source)
        except Exception as exc:
            raise _unrecorded(admitted, exc) from None
    elif not recorded:
        raise _taken_over(admitted)
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


def _settles(delivery: Delivery) -> str | None:
    """The expected task a delivery settles when it is finished: its own, once terminal."""
    return delivery.task_id if delivery.terminal else None


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
        calls = receiver._calls
        key = admitted.delivery.key
        admitted.lease = Lease(calls.store, key, claim.token, receiver.lease, calls)
        return None
    if result is ClaimResult.IN_PROGRESS:
        raise InProgress()
    return settled_answer(result)


def settled_answer(result: ClaimResult) -> Outcome:
    """The answer to a claim that found nothing to run: a duplicate of a done delivery, stale
    progress, or a `ReplayedSignature` raised."""
    if result is ClaimResult.DUPLICATE:
        return Outcome.accepted("duplicate")
    if result is ClaimResult.STALE:
        return Outcome.accepted("stale")
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


def _taken_over(admitted: Admitted) -> InProgress:
    """The answer when the lease was lost before the handlers' writes and the `done` mark
    committed: both were rolled back, and the claim that took the delivery over owns it."""
    logger.warning(
        "the lease of %s was taken over before its outcome was recorded: its handlers' writes "
        "were rolled back with the done mark, and the claim that took it over runs it",
        admitted.delivery.key,
    )
    return InProgress()


def _joined(failures: list[str]) -> str | None:
    return "; ".join(failures)[:1000] if failures else None
