"""A stand-in for the receiver in hand-off tests: `run_queued(key)` writes what it did to a
SQLite ledger that the test process reads, whichever process ran it.

A key starting with `slow:` records `started`, then waits until `Ledger.release(key)` (or 60 s)
before recording `done`, so a test can kill a worker mid-job. A key starting with `fail:` raises
after recording `started`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections import Counter
from pathlib import Path

LEDGER_ENV = "SUNO_HOOKS_TEST_LEDGER"
"""The environment variable naming the ledger file for worker processes."""


class Ledger:
    """Rows of (key, phase, pid): `started` and `done` per run of a key."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS runs (key TEXT, phase TEXT, pid INTEGER, at REAL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS released (key TEXT PRIMARY KEY)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def record(self, key: str, phase: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?)", (key, phase, os.getpid(), time.time())
            )

    def release(self, key: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO released VALUES (?)", (key,))

    def released(self, key: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT 1 FROM released WHERE key = ?", (key,)).fetchone()
        return row is not None

    def phases(self, phase: str) -> Counter[str]:
        """How many times each key reached `phase`."""
        with self._connect() as db:
            rows = db.execute("SELECT key FROM runs WHERE phase = ?", (phase,)).fetchall()
        return Counter(key for (key,) in rows)

    def order(self, phase: str) -> list[str]:
        """The keys in the order they reached `phase`."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT key FROM runs WHERE phase = ? ORDER BY at, rowid", (phase,)
            ).fetchall()
        return [key for (key,) in rows]

    def pids(self, key: str) -> set[int]:
        with self._connect() as db:
            rows = db.execute("SELECT pid FROM runs WHERE key = ?", (key,)).fetchall()
        return {pid for (pid,) in rows}

    def wait_for(
        self, phase: str, keys: list[str], timeout: float = 30, *, times: int = 1
    ) -> Counter[str]:
        """The `phase` counts once every key in `keys` reached it `times` times; fails after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.phases(phase)
            if all(counts[key] >= times for key in keys):
                return counts
            if time.monotonic() > deadline:
                missing = sorted(key for key in keys if counts[key] < times)
                raise AssertionError(f"never {phase} within {timeout}s: {missing[:10]}")
            time.sleep(0.05)


class RecordingReceiver:
    """What an engine sees of a receiver: `run_queued` and `arun_queued`, recorded in a ledger.
    `dispatcher` and `store` are there for `suno_hooks.contrib.django.conf.get_receiver`."""

    dispatcher = None
    store = None

    def __init__(self, ledger: Ledger | Path | str | None = None) -> None:
        if ledger is None:
            ledger = os.environ[LEDGER_ENV]
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)

    def run_queued(self, key: str) -> None:
        self.ledger.record(key, "started")
        if key.startswith("fail:"):
            raise RuntimeError(f"{key} failed on purpose")
        if key.startswith("slow:"):
            deadline = time.monotonic() + 60
            while not self.ledger.released(key) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.ledger.record(key, "done")

    async def arun_queued(self, key: str) -> None:
        self.ledger.record(key, "awaited")
        self.ledger.record(key, "started")
        if key.startswith("fail:"):
            raise RuntimeError(f"{key} failed on purpose")
        if key.startswith("slow:"):
            while not self.ledger.released(key):  # noqa: ASYNC110 (another process releases it)
                await asyncio.sleep(0.02)
        self.ledger.record(key, "done")
