"""The receiver's operations, each written once as a plan that `Receiver` runs with `drive` or
`adrive`: answer a request, acknowledge one before its handlers run, deliver a trusted body, and
replay a kept delivery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SunoHooksError
from ..inbound import InboundRequest
from ..outcome import Outcome
from .admission import Admitted, admit
from .log import internal_error, log_refusal, logged
from .processing import claim_plan, process_plan, store_error
from .queued import queue_plan
from .steps import Plan, Refuse, Reopen
from .trusted import kept_plan, readmit, trusted

if TYPE_CHECKING:
    from .parts import ReceiverParts

__all__ = ["acknowledge_plan", "deliver_plan", "handle_plan", "replay_plan"]


def handle_plan(receiver: ReceiverParts, request: InboundRequest, sender: Any) -> Plan[Outcome]:
    """Admit, claim, dispatch and finish one request (with a hand-off: admit, queue and ring);
    the answer, a refusal told to monitors,
    or 500 `internal_error` for an unexpected exception (logged)."""
    try:
        admitted = admit(receiver, request)
        if receiver.handoff is None:
            return logged((yield from process_plan(receiver, admitted, sender)))
        return logged((yield from queue_plan(admitted)))
    except SunoHooksError as exc:
        return (yield from _refusal(exc, request, sender))
    except Exception:
        return internal_error()


def acknowledge_plan(
    receiver: ReceiverParts, request: InboundRequest, sender: Any
) -> Plan[tuple[Outcome, Admitted | None]]:
    """Admit and claim one request: the answer, with the claimed delivery to dispatch after
    sending it (None when there is nothing to dispatch)."""
    try:
        admitted = admit(receiver, request)
        if isinstance(admitted, Outcome):
            return logged(admitted), None
        early = yield from claim_plan(receiver, admitted)
    except SunoHooksError as exc:
        return (yield from _refusal(exc, request, sender)), None
    except Exception:
        return internal_error(), None
    if early is not None:
        early.delivery = admitted.delivery
        return logged(early), None
    accepted = Outcome.accepted("received")
    accepted.delivery = admitted.delivery
    return logged(accepted), admitted


def deliver_plan(
    receiver: ReceiverParts,
    body: bytes | Mapping[str, Any],
    feature: str | None,
    context: dict[str, Any] | None,
    source: str,
    sender: Any,
) -> Plan[Outcome]:
    """Process a trusted body (no HTTP check applies); a refusal is answered, not told."""
    try:
        admitted = trusted(body, feature, context, source)
        return (yield from process_plan(receiver, admitted, sender))
    except SunoHooksError as exc:
        return Outcome.rejected(exc)


def replay_plan(receiver: ReceiverParts, key: str, force: bool, sender: Any) -> Plan[Outcome]:
    """Run a kept delivery through claim, dispatch and finish again (see `Receiver.replay`);
    a `KeyError` when no delivery `key` is kept."""
    kept = yield from kept_plan(key)
    if isinstance(kept, Outcome):
        return kept
    try:
        admitted = readmit(kept, receiver.dispatcher, sender, force=force)
        if force:
            try:
                early: Outcome | None = yield Reopen(kept)
            except SunoHooksError:
                raise
            except Exception as exc:
                raise store_error(exc) from None
            if early is not None:
                return early
        return (yield from process_plan(receiver, admitted, sender))
    except SunoHooksError as exc:
        return Outcome.rejected(exc)


def _refusal(exc: SunoHooksError, request: InboundRequest, sender: Any) -> Plan[Outcome]:
    """Log a refused request, tell the monitors, and answer it."""
    log_refusal(exc, request)
    yield Refuse(sender, exc, request.peer)
    return Outcome.rejected(exc)
