"""The hand-off's plans, composed from the inline ones: record a verified callback as `queued`
and ring the hand-off; run a queued delivery in a worker (claim, dispatch, finish, exactly as
inline); and sweep, ringing again what a lost ring or a dead worker left behind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, SunoHooksError
from ..handoff import Handoff
from ..outcome import Outcome
from ..stores import Claim, ClaimResult, Delivery, DeliveryStatus, MemoryStore, Store
from .admission import Admitted
from .processing import bind_plan, process_plan, settled_answer, store_error
from .steps import FindSweepable, NoteRing, Plan, QueueDelivery, Ring
from .store_calls import StoreCalls
from .trusted import kept_admitted, kept_plan

if TYPE_CHECKING:
    from .parts import ReceiverParts

__all__ = [
    "DEFAULT_MAX_RINGS",
    "DEFAULT_SWEEP_AFTER",
    "check_handoff_store",
    "queue_plan",
    "run_queued_plan",
    "sweep_plan",
]

DEFAULT_SWEEP_AFTER = 120.0
"""How long, in seconds, a delivery waits `queued` (since it was queued or last rung), or sits
`processing` after its lease ended, before the sweeper rings its hand-off again."""
DEFAULT_MAX_RINGS = 10
"""How many times the sweeper rings one delivery again before leaving it to a person (it stays
`queued` or `abandoned` in the inbox, replayable)."""

_RAN = (DeliveryStatus.DONE, DeliveryStatus.FAILED)


def check_handoff_store(handoff: Handoff, store: Store, calls: StoreCalls) -> None:
    """Refuse, at construction, a store that cannot queue, and one that other processes cannot
    read (`memory://`) for a hand-off whose work runs in another process."""
    if calls.queue is None:
        raise ConfigurationError(
            f"{store!r} cannot queue deliveries (it has no queue()), so it cannot serve a hand-off."
        )
    if handoff.out_of_process and isinstance(store, MemoryStore):
        raise ConfigurationError(
            f"{handoff!r} runs the handlers in another process, which cannot read a memory:// "
            "store: use sqlite:///, redis://, postgresql:// or django://, or handoff='thread'."
        )


def queue_plan(admitted: Admitted | Outcome) -> Plan[Outcome]:
    """Record an admitted delivery as `queued` in one write and ring the hand-off: 200 `queued`
    for a new delivery or one already waiting or running, else what `claim` would answer
    (`duplicate`, `stale`, or a replayed signature refused)."""
    if isinstance(admitted, Outcome):
        return admitted
    delivery = admitted.delivery
    yield from bind_plan(admitted)
    try:
        claim: Claim = yield QueueDelivery(delivery, admitted.replay)
    except Exception as exc:
        raise store_error(exc) from None
    result = claim.result
    if result is ClaimResult.NEW or result is ClaimResult.IN_PROGRESS:
        outcome = Outcome.accepted("queued")
        if result is ClaimResult.NEW:
            yield Ring(delivery.key)
    else:
        outcome = settled_answer(result)
    outcome.delivery = delivery
    return outcome


def run_queued_plan(receiver: ReceiverParts, key: str, sender: Any) -> Plan[Outcome]:
    """Claim the stored delivery `key` and dispatch it as the inline path does: 200 `received`
    once its handlers ran, `duplicate` when it already ran (done, or failed: a failed one is
    replayed on purpose, not by a repeated message), 409 `in_progress` while a live lease holds
    it, 503 when the store is down; a `KeyError` when no delivery `key` is kept."""
    kept = yield from kept_plan(key)
    if isinstance(kept, Outcome):
        return kept
    if kept.status in _RAN:
        outcome = Outcome.accepted("duplicate")
    else:
        try:
            outcome = yield from process_plan(receiver, kept_admitted(kept), sender)
        except SunoHooksError as exc:
            outcome = Outcome.rejected(exc)
    outcome.delivery = kept
    return outcome


def sweep_plan(older_than: float, max_rings: int, limit: int) -> Plan[dict[str, bool]]:
    """Ring again every delivery the store finds stuck, counting each ring first (so a sweeper
    that dies mid-way never rings one past `max_rings`); whether each ring was sent, by key."""
    stuck: list[Delivery] = yield FindSweepable(older_than, max_rings, limit)
    rung: dict[str, bool] = {}
    for delivery in stuck:
        yield NoteRing(delivery.key)
        rung[delivery.key] = yield Ring(delivery.key)
    return rung
