"""Bodies that skip the HTTP checks: those handed over in-process (`Receiver.deliver`) and the
deliveries kept in the store that `Receiver.replay` runs again."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, get_args

from .._callbacks.probe import load_json, probe
from ..errors import ConfigurationError, InvalidPayload, NoReceiver
from ..events import EventSource
from ..outcome import Outcome
from ..stores import REPLAYABLE, Delivery, DeliveryStatus, Reopens, Store
from .admission import Admitted, delivery_for
from .dispatch import Dispatcher, reaches_a_receiver
from .processing import event_for, store_error
from .steps import GetDelivery, Plan

__all__ = [
    "REPLAY_REQUESTED",
    "kept_admitted",
    "kept_plan",
    "readmit",
    "reopened",
    "replayable",
    "trusted",
]

_SOURCES: tuple[str, ...] = get_args(EventSource)
_TASK_DELIVERIES = 100

REPLAY_REQUESTED = "replay_requested"
"""The error a done delivery carries from a forced replay's reopening until its claim."""


def trusted(
    body: bytes | Mapping[str, Any],
    feature: str | None,
    context: dict[str, Any] | None,
    source: str,
) -> Admitted:
    """A body handed over in-process, ready for the claim: no HTTP check applies to it."""
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {', '.join(_SOURCES)}; got {source!r}.")
    if not isinstance(body, bytes):
        try:
            body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            raise InvalidPayload("The body cannot be encoded as JSON.") from None
    found = probe(load_json(body))
    return Admitted(found, delivery_for(found, body, feature, context, source), None)


def readmit(
    kept: Delivery, dispatcher: Dispatcher, sender: Any, *, force: bool = False
) -> Admitted:
    """A kept delivery, ready to run through the pipeline again (it was verified on arrival);
    its event says `replay`, the inbox keeps how the delivery first arrived. A failed or
    abandoned one (any one, when `force`) that no receiver would hear raises `NoReceiver`."""
    admitted = kept_admitted(kept, "replay")
    if force or kept.status in REPLAYABLE:
        event = event_for(admitted)
        if event is not None and not reaches_a_receiver(dispatcher, sender, event):
            raise NoReceiver()
    return admitted


def kept_plan(key: str) -> Plan[Delivery | Outcome]:
    """Read the kept delivery `key`: it, or the 503 to answer when the store is down; a
    `KeyError` when no delivery `key` is kept."""
    try:
        kept: Delivery | None = yield GetDelivery(key)
    except Exception as exc:
        return Outcome.rejected(store_error(exc))
    if kept is None:
        raise KeyError(f"No delivery {key!r} is kept in the store.")
    return kept


def kept_admitted(kept: Delivery, source: str | None = None) -> Admitted:
    """A kept delivery, ready to claim again (it was verified on arrival); `source`, when
    given, is its event's source in place of how it first arrived."""
    found = probe(load_json(kept.body))
    delivery = dataclasses.replace(kept, headers=dict(kept.headers), error=None)
    return Admitted(found, delivery, None, source)


def reopened(store: Store, kept: Delivery) -> Outcome | None:
    """Ready a kept delivery for a replay asked for on purpose: a done one is marked failed
    (`replay_requested`) so the claim takes it over; None to go on, or the answer when nothing
    should run (progress of a task that has ended is `stale`, as its redelivery would be)."""
    if kept.status is not DeliveryStatus.DONE:
        return None
    if not isinstance(store, Reopens):
        raise ConfigurationError(f"{store!r} cannot reopen a done delivery to replay it.")
    if not kept.terminal:
        others = store.deliveries(task_id=kept.task_id, limit=_TASK_DELIVERIES)
        if any(other.terminal for other in others):
            return Outcome.accepted("stale")
    store.reopen(kept.key, error=REPLAY_REQUESTED)
    return None


def replayable(store: Store, limit: int) -> list[Delivery]:
    """Up to `limit` failed and abandoned deliveries in `store`, oldest first."""
    found = [d for status in REPLAYABLE for d in store.deliveries(status=status, limit=limit)]
    found.sort(key=lambda d: d.received_at)
    return found[-limit:] if len(found) > limit else found
