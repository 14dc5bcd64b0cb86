"""Lenient validation: a field that cannot be coerced is dropped rather than failing the event.

The repair work is bounded whatever the input: at most `MAX_PASSES` passes; past
`MAX_FIELD_REPAIRS` errors in a pass, whole list items holding an error are dropped instead of
single fields; past `MAX_ERRORS` the value is not repaired at all (the typed result is left
empty, the body stays in `Event.raw`). A large body of invalid items costs a few validations.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

__all__ = ["MAX_ERRORS", "MAX_FIELD_REPAIRS", "MAX_PASSES", "validate_leniently"]

MAX_PASSES = 4
"""At most this many repair passes over one value."""
MAX_FIELD_REPAIRS = 500
"""Past this many errors in a pass, whole list items holding an error are dropped."""
MAX_ERRORS = 5000
"""Past this many errors the value is not repaired at all; the body stays in `Event.raw`."""

_M = TypeVar("_M")


def validate_leniently(adapter: TypeAdapter[_M], value: Any) -> _M:
    """Validate leniently: a field that cannot be coerced is dropped (so it becomes `None`),
    a list item that is not an object is skipped; nothing raises."""
    # The adapter's own `validate_python` adds keyword handling that costs a tenth of the work.
    validate = adapter.validator.validate_python
    try:
        return cast(_M, validate(value))
    except ValidationError as first_error:
        error: ValidationError = first_error
    if error.error_count() <= MAX_ERRORS:
        value = _copy(value)
        for _ in range(MAX_PASSES):
            _drop_invalid(value, error, whole_items=error.error_count() > MAX_FIELD_REPAIRS)
            try:
                return cast(_M, validate(value))
            except ValidationError as again:
                error = again
    return cast(_M, validate([] if isinstance(value, list) else {}))


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (a round trip in pydantic-core, far cheaper than `deepcopy`)."""
    try:
        return from_json(to_json(value))
    except ValueError:
        return copy.deepcopy(value)


def _drop_invalid(value: Any, error: ValidationError, *, whole_items: bool) -> None:
    """Remove what each error points at: the field, or with `whole_items` the innermost list
    item that holds it."""
    removals: dict[int, tuple[Any, list[Any]]] = {}
    for detail in error.errors(include_url=False, include_context=False, include_input=False):
        loc = detail["loc"]
        if whole_items:
            loc = _to_innermost_item(loc)
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


def _to_innermost_item(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    for position in range(len(loc) - 1, -1, -1):
        if isinstance(loc[position], int):
            return loc[: position + 1]
    return loc
