"""`conforms`: a runtime-checkable protocol check decided once per class.

`isinstance(obj, SomeProtocol)` inspects every member of the protocol on each call, which costs
microseconds; the receiver asks it of its store on every request."""

from __future__ import annotations

from typing import Any

__all__ = ["conforms"]

_KNOWN: dict[tuple[type, Any], bool] = {}


def conforms(obj: object, protocol: Any) -> bool:
    """`isinstance(obj, protocol)` for a runtime-checkable protocol, remembered per class."""
    key = (type(obj), protocol)
    known = _KNOWN.get(key)
    if known is None:
        known = _KNOWN[key] = isinstance(obj, protocol)
    return known
