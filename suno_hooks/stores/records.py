"""Turning a stored row back into a `Delivery`, shared by the stores that keep rows; and
store URLs made safe to show."""

from __future__ import annotations

import json
from typing import Any

from ._kept import kept_from_json
from .base import Delivery, DeliveryStatus
from .redaction import redacted_url

__all__ = ["delivery_from_columns", "delivery_from_row", "redacted_url"]


def delivery_from_row(
    *,
    key: str,
    task_id: str,
    stage: str,
    body: bytes,
    meta: str | bytes,
    received_at: float,
    updated_at: float,
    status: str,
    attempts: int,
    error: str | None,
    kept: str | bytes | None = None,
    rings: int = 0,
) -> Delivery:
    """A `Delivery` from the columns a store keeps, `meta` being `Delivery.meta_json()` and
    `kept` the JSON array of its kept media (None: nothing kept)."""
    extra: dict[str, Any] = json.loads(meta) if meta else {}
    return Delivery(
        key=key,
        task_id=task_id,
        stage=stage,
        body=bytes(body),
        kind=extra.get("kind") or "unknown",
        feature=extra.get("feature"),
        context=extra.get("context"),
        headers=extra.get("headers") or {},
        peer=extra.get("peer"),
        received_at=float(received_at),
        updated_at=float(updated_at),
        status=DeliveryStatus(status),
        attempts=int(attempts),
        error=error or None,
        source=extra.get("source") or "callback",
        kept=kept_from_json(kept),
        rings=int(rings or 0),
    )


def delivery_from_columns(row: tuple[Any, ...]) -> Delivery:
    """A `Delivery` from a row of (key, task_id, stage, body, meta, received_at, updated_at,
    status, attempts, error, kept, rings), the order the SQL stores select them in."""
    key, task_id, stage, body, meta, received_at, updated_at, status, attempts, error = row[:10]
    kept, rings = row[10:]
    return delivery_from_row(
        key=key,
        task_id=task_id,
        stage=stage,
        body=body,
        meta=meta,
        received_at=received_at,
        updated_at=updated_at,
        status=status,
        attempts=attempts,
        error=error,
        kept=kept,
        rings=rings,
    )
