"""The event of a delivery an inbox keeps, rebuilt from its stored body by the library's own
parser (for the inbox page and for backfilling the media archive)."""

from __future__ import annotations

from datetime import datetime, timezone

from ..events import Event
from ..stores.base import Delivery
from .parsing import build_event
from .probe import load_json, probe

__all__ = ["event_of"]


def event_of(delivery: Delivery) -> Event:
    """The `Event` handlers received for this delivery (parsed again from its kept body)."""
    return build_event(
        probe(load_json(delivery.body)),
        feature=delivery.feature,
        context=delivery.context,
        received_at=datetime.fromtimestamp(delivery.received_at, timezone.utc),
        kind=delivery.kind,  # type: ignore[arg-type]
    )
