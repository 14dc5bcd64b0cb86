"""Short SQLite writes made on the event loop itself, never waiting for the file lock.

An uncontended write to a WAL file costs tens of microseconds, less than handing it to a worker
thread and back. `InlineWriter` tries such a write on its own connection, whose busy timeout is
zero: when another connection holds the write lock, or another thread is using the inline
connection, it answers `None` at once and the caller takes the worker-thread path. Its
connection never checkpoints on commit (a checkpoint syncs the file); every `CHECKPOINT_EVERY`
inline commits, a worker thread checkpoints and restarts the log, holding the write lock while it
does (inline writes on its loop wait for it, without blocking the loop), so the log is reused,
not grown, under a steady stream of writes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["CHECKPOINT_EVERY", "CHECKPOINT_WAIT", "InlineWriter", "checkpoint"]

T = TypeVar("T")

CHECKPOINT_EVERY = 256
"""A worker thread checkpoints the log after this many inline commits."""
CHECKPOINT_WAIT = 0.05
"""Seconds a checkpoint waits for readers and writers before it gives up until the next one."""


class InlineWriter:
    """One connection for writes on the event loop; `attempt` runs a write or declines it."""

    def __init__(
        self, opener: Callable[[], sqlite3.Connection], checkpoint: Callable[[], object]
    ) -> None:
        self._opener = opener
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._commits = 0
        self._checkpointing: asyncio.Future[object] | None = None
        self._pid = os.getpid()

    async def awrite(self, write: Callable[[sqlite3.Connection], T]) -> T | None:
        """`attempt`, after waiting (without blocking the loop) for a checkpoint this loop
        started: it holds the write lock for its few milliseconds, and a worker thread that met
        the lock would sleep in the busy handler's coarse steps instead."""
        running = self._checkpointing
        if (
            running is not None
            and not running.done()
            and running.get_loop() is asyncio.get_running_loop()
        ):
            await asyncio.shield(running)
        return self.attempt(write)

    def attempt(self, write: Callable[[sqlite3.Connection], T]) -> T | None:
        """`write(conn)`'s answer, or None when it would have to wait (nothing was written).

        `write` must leave no transaction open; a database error other than "locked" or
        "busy" is raised as it would be on a worker thread.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._pid != os.getpid():
                # A connection must not cross a fork: the child opens its own.
                self._conn, self._pid = None, os.getpid()
            conn = self._conn
            if conn is None:
                conn = self._conn = self._open()
            try:
                answer = write(conn)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    self._discard(conn)
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return None
            except BaseException:
                self._discard(conn)
                raise
            self._commits += 1
        finally:
            self._lock.release()
        if self._commits % CHECKPOINT_EVERY == 0:
            self._schedule_checkpoint()
        return answer

    def close(self) -> None:
        """Close the inline connection (a later `attempt` opens a new one)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _open(self) -> sqlite3.Connection:
        conn = self._opener()
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def _discard(self, conn: sqlite3.Connection) -> None:
        # A connection that saw any other fault is not trusted again (see `ConnectionPool`).
        conn.close()
        self._conn = None

    def _schedule_checkpoint(self) -> None:
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._checkpoint()
            return
        self._checkpointing = loop.run_in_executor(None, self._checkpoint)


def checkpoint(conn: sqlite3.Connection, timeout: float) -> bool:
    """Copy the write-ahead log into the file and restart it; False when a reader or writer kept
    it from finishing. `timeout` is the connection's busy timeout, restored afterwards.

    A restarting checkpoint holds off writers while it waits for readers, so it waits at most
    `CHECKPOINT_WAIT` seconds, not the store's timeout: a long-lived reader (a shell with a
    transaction open) delays the log's restart, never the callbacks."""
    conn.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT * 1000)}")
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return not busy


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text
