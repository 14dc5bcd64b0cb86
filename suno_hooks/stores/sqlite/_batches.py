"""The SQLite store's claims and finishes on event loops, in batches: the claims waiting at the
same moment on a loop are written in one `BEGIN IMMEDIATE` transaction, and so are the finishes.

A batch is first written without savepoints. When an item raises its own error, that transaction
is rolled back and the batch written again with a savepoint per item: the one that raises is
rolled back alone and gets its error, while the others stay in the batch. A fault of the
database itself (the file is read-only, full or unreadable, a lock or I/O error) is no item's
own: the whole transaction is rolled back and every item gets the error, as they do when the
`COMMIT` fails. A batch is written on the event loop's inline connection when the file is free,
else on a pooled connection in a worker thread, which waits for the lock while the next batch
queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ...errors import SunoHooksException
from .._group import BatchSizes, GroupCommit
from ..base import Claim, ReplayCheck
from ._inline import InlineWriter
from ._pool import ConnectionPool
from ._writes import claim_in_transaction, finish_and_settle

__all__ = ["BatchedWrites", "ClaimItem", "FinishItem", "in_one_transaction"]

Item = TypeVar("Item")
Result = TypeVar("Result")

# Errors that belong to the statement that raised them (a constraint, data that cannot be bound
# or stored); any other database error is the file's or the connection's, and fails the batch.
_ITEM_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.NotSupportedError,
)


@dataclass(frozen=True, slots=True)
class ClaimItem:
    """One claim of a batch: the replay check and `claim_params`'s parameters."""

    replay: ReplayCheck | None
    params: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FinishItem:
    """One finish of a batch; `settles` is the expected task's id and who settled it."""

    key: str
    token: str
    error: str | None
    settles: tuple[str, str] | None = None


def in_one_transaction(
    conn: sqlite3.Connection,
    items: Sequence[Item],
    write_one: Callable[[sqlite3.Connection, Item], Result],
) -> list[Result | Exception]:
    """`write_one(conn, item)` for each item in one `BEGIN IMMEDIATE` transaction: each item's
    result or its own error (that item alone rolled back). Raises, with nothing written, when
    the database failed or the commit did."""
    try:
        return _write_all(conn, items, write_one, savepoints=False)
    except _ItemFailed:
        return _write_all(conn, items, write_one, savepoints=True)


class _ItemFailed(SunoHooksException):
    """An item raised its own error in a batch written without savepoints."""


def _write_all(
    conn: sqlite3.Connection,
    items: Sequence[Item],
    write_one: Callable[[sqlite3.Connection, Item], Result],
    *,
    savepoints: bool,
) -> list[Result | Exception]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        results: list[Result | Exception] = []
        for item in items:
            if savepoints:
                conn.execute("SAVEPOINT item")
            try:
                results.append(write_one(conn, item))
            except Exception as exc:
                if isinstance(exc, sqlite3.Error) and not isinstance(exc, _ITEM_ERRORS):
                    raise
                if not conn.in_transaction:
                    raise  # the error ended the transaction, and the batch with it
                if not savepoints:
                    raise _ItemFailed() from exc
                conn.execute("ROLLBACK TO item")
                results.append(exc)
            if savepoints:
                conn.execute("RELEASE item")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return results


def _claim(conn: sqlite3.Connection, item: ClaimItem) -> Claim | tuple[int, float]:
    return claim_in_transaction(conn, item.replay, item.params)


def _finish(conn: sqlite3.Connection, item: FinishItem) -> bool:
    return finish_and_settle(conn, item.key, item.token, item.error, item.settles)


class BatchedWrites:
    """A store's claims and finishes on event loops, each kind grouped (`GroupCommit`) and
    written by `in_one_transaction`: inline when the file is free, else on a connection of
    `pool` in a worker thread."""

    def __init__(self, inline: InlineWriter, pool: ConnectionPool, sizes: BatchSizes) -> None:
        self._inline = inline
        self._pool = pool
        self.claims: GroupCommit[ClaimItem, Claim | tuple[int, float]]
        self.claims = GroupCommit(self._write_claims, sizes.claims)
        self.finishes: GroupCommit[FinishItem, bool]
        self.finishes = GroupCommit(self._write_finishes, sizes.finishes)

    async def _write_claims(
        self, items: list[ClaimItem]
    ) -> list[Claim | tuple[int, float] | Exception]:
        return await self._write(items, _claim)

    async def _write_finishes(self, items: list[FinishItem]) -> list[bool | Exception]:
        return await self._write(items, _finish)

    async def _write(
        self, items: list[Item], write_one: Callable[[sqlite3.Connection, Item], Result]
    ) -> list[Result | Exception]:
        def batch(conn: sqlite3.Connection) -> list[Result | Exception]:
            return in_one_transaction(conn, items, write_one)

        answers = await self._inline.awrite(batch)
        if answers is None:
            answers = await asyncio.to_thread(self._pool.run, batch)
        return answers

    def close(self) -> None:
        """Close the inline connection; a batch written later opens a new one."""
        self._inline.close()
