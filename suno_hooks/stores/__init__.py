"""Stores: the `Store` protocol and `store_from_url` for `memory://`, `sqlite://`, `redis://`, `django://`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import ConfigurationError
from .base import (
    AsyncStore,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    Store,
)
from .memory import MemoryStore

__all__ = [
    "AsyncStore",
    "Claim",
    "ClaimResult",
    "Delivery",
    "DeliveryStatus",
    "MemoryStore",
    "ReplayCheck",
    "Store",
    "store_from_url",
]


def _options(query: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query):
        try:
            options[name] = int(value) if value.isdigit() else float(value)
        except ValueError:
            options[name] = value
    return options


def store_from_url(url: str) -> Store:
    """Build a store from its URL (`memory://`, `sqlite:///path.db`, `redis://host:6379/0`, `django://`).

    Numeric query parameters become keyword arguments (`memory://?max_keys=1000`).
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"Not a store URL: {url!r} (expected e.g. 'sqlite:///suno.db').")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    options = _options(parts.query)
    if scheme == "memory":
        return MemoryStore(**options)
    if scheme == "django":
        from ..contrib.django.store import DjangoStore

        return DjangoStore(**options)
    raise ConfigurationError(
        f"Unknown store scheme {scheme!r} in {url!r}: use memory:// or django://."
    )
