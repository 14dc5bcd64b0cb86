"""The PostgreSQL store's claims and finishes on event loops, in batches: the claims waiting at
the same moment on a loop go to the server as one transaction, sent in pipeline mode (one round
trip), and so do the finishes.

Each item is one statement (a claim is one call of the claim function); a batch of one is its
statement alone, as unbatched. A batch is sent as `BEGIN`, its statements and `COMMIT`. When an
item raises its own error (a constraint, data the server refuses, a lock conflict or a cancelled
statement), the transaction is rolled back and the batch sent again with a savepoint per item:
the item that raises is then rolled back alone, the rest of the batch is sent again after a
`ROLLBACK TO`, one more round trip, and the item gets its error. Any other failure (the
connection, a savepoint, the `COMMIT`) fails the whole batch: nothing of it is kept, and every
item gets the error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor

from .._group import BatchSizes, GroupCommit
from ._statements import Rows, afetch

__all__ = ["BatchedWrites", "Statement", "in_one_transaction"]

Statement = tuple[str, tuple[Any, ...]]
"""One item of a batch: a statement and its parameters."""
Answer = Rows | Exception
Runner = Callable[
    [Callable[[AsyncConnection[Any]], Awaitable[list[Answer]]]], Awaitable[list[Answer]]
]

# SQLSTATEs (or their classes) of the errors that belong to the statement that raised them: data
# exceptions, constraint violations, a deadlock or serialization failure, a lock not available,
# a cancelled statement, an error raised by a trigger. Any other error fails the batch.
_ITEM_ERRORS = ("22", "23", "40", "55P03", "57014", "P0")

_BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"  # what the claim function is written for
_SAVEPOINT = "SAVEPOINT item"
_RELEASE = "RELEASE SAVEPOINT item"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT item"
_COMMIT = "COMMIT"
_ROLLBACK = "ROLLBACK"


def _own_error(error: Exception) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    return bool(sqlstate) and str(sqlstate).startswith(_ITEM_ERRORS)


async def _send(
    conn: AsyncConnection[Any], commands: list[Statement]
) -> tuple[list[AsyncCursor[Any]], list[Exception]]:
    """Send `commands` in pipeline mode, ending with one sync (one round trip): one cursor per
    command sent, in order, and the errors raised, first one first; after an error the rest are
    not sent."""
    cursors: list[AsyncCursor[Any]] = []
    errors: list[Exception] = []
    try:
        async with conn.pipeline():
            try:
                for sql, params in commands:
                    cursor = conn.cursor()
                    cursors.append(cursor)
                    # An item's statement is prepared (the server parses and plans it once
                    # per connection); psycopg forgets a preparation the server skipped after
                    # an error. The transaction's own commands are sent as they are.
                    await cursor.execute(sql, params or None, prepare=bool(params))
            except psycopg.Error as exc:
                errors.append(exc)
    except psycopg.Error as exc:  # from the sync that leaving pipeline mode sends
        errors.append(exc)
    return cursors, errors


async def in_one_transaction(
    conn: AsyncConnection[Any], statements: Sequence[Statement]
) -> list[Answer]:
    """Run the statements in one transaction sent in pipeline mode: each one's rows or its own
    error (that statement alone rolled back), once the transaction has committed. Raises, with
    nothing kept, when anything else failed (the connection, a savepoint, the commit). A lone
    statement is sent alone, its own transaction, as it would be unbatched."""
    if len(statements) == 1:
        return [await afetch(await conn.execute(*statements[0]))]
    cursors, errors = await _send(conn, [(_BEGIN, ()), *statements, (_COMMIT, ())])
    if not errors:
        return [await afetch(cursor) for cursor in cursors[1:-1]]
    _raise_unless_own(conn, cursors, errors, items=range(1, len(statements) + 1))
    return await _with_savepoints(conn, statements, [(_ROLLBACK, ()), (_BEGIN, ())])


def _raise_unless_own(
    conn: AsyncConnection[Any],
    cursors: list[AsyncCursor[Any]],
    errors: list[Exception],
    items: Sequence[int],
) -> int:
    """Where the failed command is among the commands sent; raises the error unless it is the
    own error of one of the `items` (the positions of the batch's statements)."""
    # The first command without a result is the one that failed; the rest were skipped.
    failed = next((n for n, cursor in enumerate(cursors) if cursor.pgresult is None), len(cursors))
    if failed not in items or conn.closed or not _own_error(errors[0]):
        raise errors[0]
    return failed


async def _with_savepoints(
    conn: AsyncConnection[Any], statements: Sequence[Statement], commands: list[Statement]
) -> list[Answer]:
    """The batch again, after `commands` (which open its transaction), each statement under a
    savepoint: one that raises its own error is rolled back alone and the rest sent again."""
    answers: list[Answer] = []
    while True:
        items: list[int] = []  # where each statement is among the commands
        for statement in statements[len(answers) :]:
            commands.append((_SAVEPOINT, ()))
            items.append(len(commands))
            commands += [statement, (_RELEASE, ())]
        commands.append((_COMMIT, ()))
        cursors, errors = await _send(conn, commands)
        failed = _raise_unless_own(conn, cursors, errors, items) if errors else len(commands)
        answers += [await afetch(cursors[n]) for n in items if n < failed]
        if not errors:
            return answers
        answers.append(errors[0])
        commands = [(_ROLLBACK_TO, ()), (_RELEASE, ())]


class BatchedWrites:
    """A store's claims and finishes on event loops, each kind grouped (`GroupCommit`) and
    written by `in_one_transaction` on a connection that `run` lends."""

    def __init__(self, run: Runner, sizes: BatchSizes) -> None:
        self._run = run
        self.claims: GroupCommit[Statement, Rows] = GroupCommit(self._write, sizes.claims)
        self.finishes: GroupCommit[Statement, Rows] = GroupCommit(self._write, sizes.finishes)

    async def _write(self, statements: list[Statement]) -> list[Answer]:
        async def batch(conn: AsyncConnection[Any]) -> list[Answer]:
            return await in_one_transaction(conn, statements)

        return await self._run(batch)
