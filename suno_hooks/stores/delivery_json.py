"""The JSON document of a kept delivery, shared by `suno-hooks events --json` and
`manage.py suno_hooks list --json`: one object per line, ISO 8601 times, the body as JSON."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .base import Delivery

__all__ = ["delivery_document", "iso_time", "write_json_lines"]


def iso_time(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 UTC text with milliseconds (`2025-08-19T14:32:07.120Z`)."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def delivery_document(delivery: Delivery) -> dict[str, Any]:
    """A delivery as a JSON-ready object: its fields, times in ISO 8601, the body decoded as
    JSON (as text when it is not JSON)."""
    document = delivery.to_dict()
    document["received_at"] = iso_time(delivery.received_at)
    document["updated_at"] = iso_time(delivery.updated_at or None)
    with contextlib.suppress(ValueError):
        document["body"] = json.loads(delivery.body)
    return document


def write_json_lines(deliveries: Iterable[Delivery], write: Callable[[str], Any]) -> None:
    """Write one `delivery_document` per line through `write` (which adds the newline)."""
    for delivery in deliveries:
        write(json.dumps(delivery_document(delivery), ensure_ascii=False))
