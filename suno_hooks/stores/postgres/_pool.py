"""Idle PostgreSQL connections kept for reuse, forgotten after a fork or a lost server."""

from __future__ import annotations

import os
import threading
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.pq import TransactionStatus

__all__ = ["IdleConnections", "discard"]

C = TypeVar("C", psycopg.Connection[Any], psycopg.AsyncConnection[Any])


def discard(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Close a connection at once; closing sends no query, so one way serves both kinds."""
    connection.pgconn.finish()


class IdleConnections(Generic[C]):
    """At most `size` idle connections of one kind, newest reused first, shared by threads.

    A connection goes back only when it is open and outside a transaction. After a fork the
    parent's connections are left alone (closing one would end the parent's session).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[C] = []
        self._pid = os.getpid()

    def take(self) -> C | None:
        """An idle connection, or None when a new one must be opened."""
        with self._lock:
            if self._pid != os.getpid():
                # psycopg never closes a connection that another process opened.
                self._idle = []
                self._pid = os.getpid()
            return self._idle.pop() if self._idle else None

    def give(self, connection: C) -> None:
        """Keep a connection for reuse, or close it when broken, busy or not needed."""
        if self._pid != os.getpid():
            return
        if not connection.closed and connection.info.transaction_status == TransactionStatus.IDLE:
            with self._lock:
                if len(self._idle) < self.size:
                    self._idle.append(connection)
                    return
        discard(connection)

    def clear(self) -> int:
        """Close every idle connection (they predate a lost server); how many there were."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            discard(connection)
        return len(idle)

    def __len__(self) -> int:
        return len(self._idle)
