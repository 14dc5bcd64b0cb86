"""The deliveries list: filters read from the query string, one page of the store, counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import get_args

from .._callbacks.whole_numbers import whole_number
from ..events import EventKind
from ..stores import Delivery, DeliveryStatus, Store
from ..stores.base import delivery_source
from .event_view import EventView, event_view

__all__ = ["KINDS", "SOURCES", "STAGES", "ListQuery", "Listing", "Row", "load_listing"]

KINDS: tuple[str, ...] = get_args(EventKind)
"""The kinds the listing filters by: every `EventKind`."""
STAGES = ("text", "first", "complete", "error")
"""The stages the listing filters by."""
SOURCES = ("callback", "poll", "replay")
"""How a delivery reached the receiver, for the listing's filter: `callback`, `poll`, `replay`."""
_MAX_PAGE = 100_000


def statuses() -> tuple[str, ...]:
    """Every delivery status the installed stores know (read when asked, so new ones show)."""
    return tuple(status.value for status in DeliveryStatus)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list's filters and page number; each filter is None when not set."""

    status: str | None = None
    kind: str | None = None
    stage: str | None = None
    task_id: str | None = None
    source: str | None = None
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> tuple[ListQuery, list[str]]:
        """The query from the page's parameters, and a sentence per value that was ignored."""
        problems: list[str] = []

        def pick(name: str, allowed: tuple[str, ...] | None, limit: int = 128) -> str | None:
            value = (params.get(name) or "").strip()
            if not value:
                return None
            if (allowed is not None and value not in allowed) or len(value) > limit:
                problems.append(f"Ignored the {name} filter: {_quoted(value)} is not one of ours.")
                return None
            return value

        page_text = (params.get("page") or "1").strip()
        page = whole_number(page_text, 9) or 0
        if not 1 <= page <= _MAX_PAGE:
            problems.append(f"Ignored the page number {_quoted(page_text)}.")
            page = 1
        query = cls(
            status=pick("status", statuses()),
            kind=pick("kind", KINDS),
            stage=pick("stage", None, 64),
            task_id=pick("task", None),
            source=pick("source", None, 64),
            page=page,
        )
        return query, problems

    def params(self, **changes: str | int | None) -> dict[str, str]:
        """The query string parameters of this query with `changes` applied (page reset to 1
        unless given)."""
        changed = replace(self, **{"page": 1, **changes}) if changes else self  # type: ignore[arg-type]
        values = {
            "status": changed.status,
            "kind": changed.kind,
            "stage": changed.stage,
            "task": changed.task_id,
            "source": changed.source,
            "page": str(changed.page) if changed.page != 1 else None,
        }
        return {name: str(value) for name, value in values.items() if value}

    @property
    def filtered(self) -> bool:
        """True when any filter is set."""
        return any((self.status, self.kind, self.stage, self.task_id, self.source))


@dataclass(frozen=True, slots=True)
class Row:
    """One delivery of the list with its source and a summary from its event."""

    delivery: Delivery
    source: str
    view: EventView


@dataclass(slots=True)
class Listing:
    """One page of the list."""

    query: ListQuery
    rows: list[Row]
    counts: dict[str, int]
    has_next: bool
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every kept delivery, whatever its status."""
        return sum(self.counts.values())


def load_listing(store: Store, query: ListQuery, *, page_size: int, now: float) -> Listing:
    """Read one page (and the counts per status) from the store."""
    found = store.deliveries(
        status=query.status,
        kind=query.kind,
        stage=query.stage,
        task_id=query.task_id,
        source=query.source,
        offset=(query.page - 1) * page_size,
        limit=page_size + 1,
    )
    rows = [Row(d, delivery_source(d), event_view(d, now=now)) for d in found[:page_size]]
    counts = store.count_by_status()
    return Listing(query, rows, counts, has_next=len(found) > page_size)


def _quoted(value: str) -> str:
    """A short quotation of a value from the query string: its repr, cut at 60 characters
    (one escaped character can take ten)."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
