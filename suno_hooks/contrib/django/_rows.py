"""ORM rows as the store's `Delivery`: the text the table can hold, the headers that carry a
delivery's source, and the lease as a listing and a page read it."""

from __future__ import annotations

import time

from django.db.models import Q

from ...stores._kept import records_from
from ...stores._text import jsonb_value, text
from ...stores.base import Delivery, DeliveryStatus
from .models import Delivery as DeliveryRow
from .tasks import moment as _moment

__all__ = ["lease_live", "status_filter", "store_delivery", "stored_headers", "table_text"]

_PROCESSING = DeliveryStatus.PROCESSING.value


def table_text(value: str, limit: int) -> str:
    """`value` as a text column holds it, at most `limit` characters."""
    # PostgreSQL text holds neither NUL nor a lone surrogate: cleaned as the PostgreSQL store
    # cleans them (stably, so keys stay consistent), on every database for the same answers.
    return text(value)[:limit]


# The Django table has no meta column: a non-default source rides in the headers JSON under a
# name no HTTP header can have.
_SOURCE_KEY = ":source"


def stored_headers(delivery: Delivery) -> dict[str, str]:
    """The headers to store for `delivery`, its source among them when not a callback."""
    headers: dict[str, str] = jsonb_value(delivery.headers)
    if delivery.source != "callback":
        headers[_SOURCE_KEY] = delivery.source
    return headers


def store_delivery(row: DeliveryRow, now: float | None = None) -> Delivery:
    """The store's `Delivery` of an ORM row; `processing` past its lease at `now` (default:
    this host's clock) is reported `abandoned`."""
    status = DeliveryStatus(row.status)
    moment = time.time() if now is None else now
    if status is DeliveryStatus.PROCESSING and not lease_live(row, moment):
        status = DeliveryStatus.ABANDONED
    headers = dict(row.headers or {})
    source = headers.pop(_SOURCE_KEY, None) or "callback"
    return Delivery(
        key=row.key,
        task_id=row.task_id,
        stage=row.stage,
        body=bytes(row.body),
        kind=row.kind,
        feature=row.feature,
        context=row.context,
        headers=headers,
        peer=row.peer,
        received_at=row.received_at.timestamp(),
        updated_at=row.updated_at.timestamp(),
        status=status,
        attempts=row.attempts,
        error=row.error,
        source=source,
        kept=records_from(row.kept if isinstance(row.kept, list) else ()),
        rings=row.rings,
    )


def status_filter(status: DeliveryStatus, now: float) -> Q:
    """The rows a listing by `status` shows: `processing` splits on whether the lease runs."""
    if status not in (DeliveryStatus.PROCESSING, DeliveryStatus.ABANDONED):
        return Q(status=status.value)
    ended = Q(lease_expires__lte=now) | Q(lease_expires__isnull=True, lease_until__lte=_moment(now))
    processing = Q(status=_PROCESSING)
    return processing & ended if status is DeliveryStatus.ABANDONED else processing & ~ended


def lease_live(row: DeliveryRow, now: float) -> bool:
    """True while the row's lease runs; rows from before the numeric lease use `lease_until`."""
    if row.lease_expires is not None:
        return row.lease_expires > now
    return row.lease_until is not None and row.lease_until.timestamp() > now
