"""Lenient validation: a field that cannot be coerced is dropped rather than failing the event."""

from __future__ import annotations

import copy
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError

__all__ = ["validate_leniently"]

_M = TypeVar("_M")


_MAX_REPAIRS = 8


def validate_leniently(adapter: TypeAdapter[_M], value: Any) -> _M:
    """Validate leniently: a field that cannot be coerced is dropped (so it becomes `None`),
    a list item that is not an object is skipped; nothing raises."""
    # The adapter's own `validate_python` adds keyword handling that costs a tenth of the work.
    validate = adapter.validator.validate_python
    try:
        return cast(_M, validate(value))
    except ValidationError as first_error:
        error: ValidationError = first_error
    value = copy.deepcopy(value)
    for _ in range(_MAX_REPAIRS):
        _drop_invalid(value, error)
        try:
            return cast(_M, validate(value))
        except ValidationError as again:
            error = again
    return cast(_M, validate([] if isinstance(value, list) else {}))


def _drop_invalid(value: Any, error: ValidationError) -> None:
    removals: dict[int, tuple[Any, list[Any]]] = {}
    for detail in error.errors():
        loc = detail["loc"]
        if not loc:
            continue
        parent = value
        for step in loc[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        last = loc[-1]
        if isinstance(parent, dict):
            parent.pop(last, None)
        elif isinstance(parent, list) and isinstance(last, int):
            removals.setdefault(id(parent), (parent, []))[1].append(last)
    for parent, indexes in removals.values():
        for index in sorted(set(indexes), reverse=True):
            if index < len(parent):
                del parent[index]
