"""A small pool of SQLite connections that outlive no failure and no thread.

A connection is borrowed for one operation and handed back, so a server that starts a thread
per request keeps at most `size` idle connections open. A connection that raised a database
error is closed, not handed back: one opened while the file was read-only (or that saw any
other fault) never keeps answering for a cause that has passed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Borrowed", "ConnectionPool"]

T = TypeVar("T")


class ConnectionPool:
    """Idle connections for one database file, at most `size` kept; safe across forks."""

    def __init__(self, opener: Callable[[], sqlite3.Connection], *, size: int = 8) -> None:
        self._opener = opener
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self.opened = 0

    def connection(self) -> Borrowed:
        """A connection for one operation (`with pool.connection() as conn:`); replaced if the
        operation raised a database error."""
        return Borrowed(self)

    def run(self, operation: Callable[..., T], *args: Any) -> T:
        """`operation(conn, *args)` on a borrowed connection."""
        with Borrowed(self) as conn:
            return operation(conn, *args)

    def idle(self) -> int:
        """How many connections wait in the pool."""
        return len(self._idle)

    def close(self) -> None:
        """Close every idle connection; borrowed ones are closed when handed back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self.size = 0
        for conn in idle:
            conn.close()

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                # A connection must not cross a fork: the child forgets the parent's.
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        conn = self._opener()
        self.opened += 1
        return conn

    def _give_back(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self.size and self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()


class Borrowed:
    """One borrowing of a pooled connection, as a context manager: handed back afterwards, or
    closed when the operation raised a database error."""

    __slots__ = ("conn", "pool")

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        self.conn = self.pool._take()
        return self.conn

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        conn = self.conn
        assert conn is not None
        if kind is not None and issubclass(kind, sqlite3.Error):
            conn.close()
        else:
            self.pool._give_back(conn)
