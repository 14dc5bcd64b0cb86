"""`InboundRequest`: what an adapter hands the receiver, free of any web framework."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Headers", "InboundRequest", "content_length"]

_MAX_LENGTH_DIGITS = 18


def content_length(value: str | None) -> int | None:
    """A `Content-Length` value as a number: ASCII digits only (`str.isdigit` also accepts
    `"²"`, which `int` refuses); None when absent or malformed. Absurdly long values read as
    a length past any limit."""
    if not value:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= _MAX_LENGTH_DIGITS else 10**_MAX_LENGTH_DIGITS


class Headers(dict[str, str]):
    """Request headers with lower-cased names, so lookups are case-insensitive."""

    @classmethod
    def of(cls, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
        """Build from a mapping or from `(name, value)` pairs; repeats joined by ','."""
        if isinstance(headers, Headers):
            return headers
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls.from_lower([(name.lower(), value) for name, value in pairs])

    @classmethod
    def from_lower(cls, pairs: Iterable[tuple[str, str]]) -> Headers:
        """Build from pairs whose names are already lower-case (ASGI guarantees it)."""
        plain: dict[str, str] = {}
        for name, value in pairs:
            previous = plain.get(name)
            plain[name] = value if previous is None else f"{previous},{value}"
        return cls(plain)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The header's value, whatever the case of `key`."""
        return dict.get(self, key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.lower() if isinstance(key, str) else key)


@dataclass(slots=True)
class InboundRequest:
    """One HTTP request as the receiver sees it; adapters build it from their framework's request.

    `body_too_large` is set by adapters that stopped reading a body past `max_body`.
    `feature` is the feature the route was mounted for, when the route says so; `source` says
    how the body reached the receiver (`callback` for HTTP), and becomes `Event.source`.
    """

    method: str
    body: bytes
    headers: Headers = field(default_factory=Headers)
    query: Mapping[str, str] = field(default_factory=dict)
    path: str = "/"
    peer: str | None = None
    feature: str | None = None
    body_too_large: bool = False
    source: str = "callback"

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers.of(self.headers)
