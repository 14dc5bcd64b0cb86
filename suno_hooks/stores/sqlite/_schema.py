"""The SQLite store's schema: its numbered migrations, applied once per file, and the check a
read-only store makes before reading an inbox."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from ...errors import ConfigurationError

__all__ = ["KEPT_VERSION", "SCHEMA_VERSION", "TASKS_SCHEMA", "check_schema", "migrate"]

TASKS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS suno_hooks_tasks (
        task_id TEXT NOT NULL PRIMARY KEY,
        feature TEXT NOT NULL,
        context TEXT,
        submitted_at REAL NOT NULL,
        next_poll_at REAL NOT NULL,
        polls INTEGER NOT NULL,
        state TEXT NOT NULL,
        settled_by TEXT,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS suno_hooks_tasks_due ON suno_hooks_tasks (next_poll_at)
        WHERE state = 'pending'""",
    "CREATE INDEX IF NOT EXISTS suno_hooks_tasks_submitted ON suno_hooks_tasks (submitted_at)",
)
"""The expected tasks: one row per submitted task whose result is awaited (pending, settled or
lost, with its next poll time); files before schema version 5 created them on first use."""
# Each entry migrates the schema from the version before it; append, never edit. A delivery
# row is also its task's terminal mark (`terminal`), and keys are `task_id:stage`, so the key
# index also finds a task's rows: a claim dirties only the row, the key index entry and the
# replay-guard entry.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE suno_hooks_deliveries (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            task_id TEXT NOT NULL,
            stage TEXT NOT NULL,
            terminal INTEGER NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            lease_until REAL,
            attempts INTEGER NOT NULL,
            error TEXT,
            received_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            meta TEXT NOT NULL,
            body BLOB NOT NULL
        )""",
        """CREATE INDEX suno_hooks_deliveries_failed ON suno_hooks_deliveries (id)
            WHERE status = 'failed'""",
        """CREATE TABLE suno_hooks_guard (
            signature_key TEXT NOT NULL PRIMARY KEY,
            digest TEXT NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    # The fencing token of the current lease: `finish` and `extend` compare-and-set on it.
    ("ALTER TABLE suno_hooks_deliveries ADD COLUMN lease_token TEXT",),
    (
        """CREATE TABLE suno_hooks_token_bindings (
            token_id TEXT NOT NULL PRIMARY KEY,
            task_id TEXT NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    # The replay-guard entry of the signature that claimed the row, kept in the row: a new
    # claim writes no separate guard entry (a signature covers its task id, and the key index
    # finds a task's rows).
    (
        "ALTER TABLE suno_hooks_deliveries ADD COLUMN signature_key TEXT",
        "ALTER TABLE suno_hooks_deliveries ADD COLUMN digest TEXT",
        "ALTER TABLE suno_hooks_deliveries ADD COLUMN guard_until REAL",
    ),
    TASKS_SCHEMA,
    # The media kept for the delivery: a JSON array of records, merged by `record_kept`; a
    # claim never writes it, so it outlives a failed try and its replay.
    ("ALTER TABLE suno_hooks_deliveries ADD COLUMN kept TEXT",),
    # Deliveries queued for a worker: how many times the sweeper rang the hand-off again, and
    # when it was last rung (or queued); a row never queued has no `rung_at`.
    (
        "ALTER TABLE suno_hooks_deliveries ADD COLUMN rings INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE suno_hooks_deliveries ADD COLUMN rung_at REAL",
        """CREATE INDEX suno_hooks_deliveries_handoff ON suno_hooks_deliveries (received_at)
            WHERE rung_at IS NOT NULL AND status IN ('queued', 'processing')""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version a file gets; an older file is migrated, a newer one refused."""
KEPT_VERSION = 6
"""The first schema version with the `kept` column (a read-only store reads older files)."""


def check_schema(conn: sqlite3.Connection, path: str) -> int:
    """For a read-only store: the file must hold an inbox this version can read; its version."""
    row = conn.execute("SELECT version FROM suno_hooks_schema").fetchone()
    if row is None or int(row[0]) > SCHEMA_VERSION:
        raise ConfigurationError(
            f"The SQLite store at {path!r} is not an inbox this suno-hooks can read."
        )
    return int(row[0])


def migrate(
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
    path: str,
    timeout: float,
) -> None:
    """Bring the file at `path` to `SCHEMA_VERSION`, each step in a `transaction()`."""
    # Processes opening a new file at once can meet in SQLite's deadlock breaker (switching
    # to WAL while another holds a write lock), which answers "locked" without waiting.
    deadline = time.monotonic() + max(timeout, 1.0)
    pause = 0.005
    while True:
        try:
            _migrate_once(transaction, path)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _migrate_once(
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]], path: str
) -> None:
    with transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS suno_hooks_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM suno_hooks_schema").fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise ConfigurationError(
                f"The SQLite store at {path!r} has schema version {current}, newer than "
                f"this suno-hooks ({SCHEMA_VERSION}); upgrade suno-hooks."
            )
        for script in _MIGRATIONS[current:]:
            for statement in script:
                conn.execute(statement)
        if row is None:
            conn.execute("INSERT INTO suno_hooks_schema (version) VALUES (?)", (SCHEMA_VERSION,))
        elif current != SCHEMA_VERSION:
            conn.execute("UPDATE suno_hooks_schema SET version = ?", (SCHEMA_VERSION,))
