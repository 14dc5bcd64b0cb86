"""`Outcome`: the receiver's answer, which adapters turn into their framework's response."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import SunoHooksError
from .events import Event
from .stores.base import Delivery

__all__ = ["Outcome"]

_ENCODED: dict[str, bytes] = {
    status: json.dumps({"status": status}).encode() for status in ("received", "duplicate", "stale")
}


@dataclass(slots=True)
class Outcome:
    """HTTP status, JSON body and headers to send back, plus the `Event` when one was parsed
    and the inbox `Delivery` once the request passed verification."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    event: Event | None = None
    error: SunoHooksError | None = None
    delivery: Delivery | None = None

    @classmethod
    def accepted(cls, state: str, event: Event | None = None) -> Outcome:
        """A 200 answer: `received`, `duplicate` or `stale`."""
        return cls(200, {"status": state}, event=event)

    @classmethod
    def rejected(cls, error: SunoHooksError) -> Outcome:
        """The JSON error answer for a rejection."""
        return cls(error.status, error.to_body(), dict(error.headers), error=error)

    @property
    def content(self) -> bytes:
        """The body encoded as JSON bytes."""
        if len(self.body) == 1:
            cached = _ENCODED.get(self.body.get("status", ""))
            if cached is not None:
                return cached
        return json.dumps(self.body, ensure_ascii=False).encode()

    @property
    def content_type(self) -> str:
        """Always JSON."""
        return "application/json"

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300
