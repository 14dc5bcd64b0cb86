"""What a Django connection committed, read from the queries Django logs (its BEGIN, COMMIT and
ROLLBACK among them), and a dispatcher that records every outcome apart from the handlers'
transaction, as the pipeline did before the `done` mark could join it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from suno_hooks import Event
from suno_hooks.contrib.django.dispatcher import DjangoDispatcher

_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Transaction:
    """The statements of one transaction and how it ended: `COMMIT`, `ROLLBACK`, or
    `AUTOCOMMIT` for a statement run outside any transaction block (its own transaction)."""

    statements: tuple[str, ...]
    end: str

    def writes(self, table: str) -> bool:
        """True when a statement of this transaction inserts, updates or deletes in `table`."""
        return any(
            sql.upper().startswith(_WRITES) and _table(sql) == table for sql in self.statements
        )

    @property
    def committed(self) -> bool:
        """True when the transaction committed a write: it ended in COMMIT, or it is an
        autocommitted statement, and it inserted, updated or deleted."""
        wrote = any(sql.upper().startswith(_WRITES) for sql in self.statements)
        return wrote and self.end in ("COMMIT", "AUTOCOMMIT")

    def shape(self) -> tuple[str, tuple[str, ...]]:
        """How it ended and the tables it wrote, sorted: what two runs can be compared by."""
        tables = {_table(sql) for sql in self.statements if sql.upper().startswith(_WRITES)}
        return self.end, tuple(sorted(tables))


def _table(sql: str) -> str:
    """The table a write statement names first (quoted, as Django writes it)."""
    return sql.split('"')[1]


def transactions(queries: Iterable[Mapping[str, Any]]) -> list[Transaction]:
    """The transactions in the order a `CaptureQueriesContext` captured their statements."""
    found: list[Transaction] = []
    current: list[str] | None = None
    for query in queries:
        sql = str(query["sql"]).strip()
        word = sql.upper()
        if word.startswith("BEGIN"):
            assert current is None, "a BEGIN inside a transaction"
            current = []
        elif word in ("COMMIT", "ROLLBACK"):
            assert current is not None, f"a {word} outside a transaction"
            found.append(Transaction(tuple(current), word))
            current = None
        elif current is not None:
            current.append(sql)
        else:
            found.append(Transaction((sql,), "AUTOCOMMIT"))
    assert current is None, "a transaction still open"
    return found


def committed(queries: Iterable[Mapping[str, Any]]) -> list[Transaction]:
    """The transactions that committed a write, in order."""
    return [found for found in transactions(queries) if found.committed]


class FinishApart:
    """A `DjangoDispatcher` seen through the plain dispatcher methods only: the pipeline then
    records each outcome in the store's own transaction once the handlers' has committed."""

    def __init__(self, inner: DjangoDispatcher) -> None:
        self.inner = inner

    def receives(self, sender: Any, event: Event) -> bool:
        """What the Django dispatcher answers."""
        return self.inner.receives(sender, event)

    def send(self, sender: Any, event: Event) -> list[str]:
        """The Django dispatcher's `send`."""
        return self.inner.send(sender, event)

    async def asend(self, sender: Any, event: Event) -> list[str]:
        """The Django dispatcher's `asend`."""
        return await self.inner.asend(sender, event)

    def rejected(
        self, sender: Any, *, error: str, status: int, detail: str, peer: str | None
    ) -> None:
        """The Django dispatcher's `rejected`."""
        self.inner.rejected(sender, error=error, status=status, detail=detail, peer=peer)
