"""Text and JSON values as PostgreSQL can hold them, shared by the PostgreSQL and Django stores
(both may write to PostgreSQL, and clean values the same way so keys stay consistent)."""

from __future__ import annotations

from typing import Any

__all__ = ["jsonb_value", "text"]


def text(value: str) -> str:
    """`value` as PostgreSQL text can hold it."""
    # PostgreSQL text holds neither NUL nor lone surrogates; the replacement is stable, so a
    # cleaned key still matches its redeliveries.
    value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def jsonb_value(value: Any) -> Any:
    """A decoded JSON value (a context, headers) as PostgreSQL jsonb can hold it: every string
    in it, keys too, cleaned as `text` cleans it."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {
            text(key) if isinstance(key, str) else key: jsonb_value(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [jsonb_value(item) for item in value]
    return value
