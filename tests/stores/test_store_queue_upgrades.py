"""Stores written before the `queued` status upgrade in place: their deliveries read with no
rings and can be queued; the Django models match their migrations."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from suno_hooks.stores import ClaimResult, DeliveryStatus, SQLiteStore
from suno_hooks.stores.postgres import PostgresStore
from suno_hooks.stores.postgres._schema import MIGRATIONS
from suno_hooks.stores.sqlite import SCHEMA_VERSION
from suno_hooks.stores.sqlite._schema import _MIGRATIONS

from ..support.postgres import PostgresServer
from ..support.stores import delivery, postgres_schema_url

_QUEUED_SINCE_SQLITE = 6
_QUEUED_SINCE_POSTGRES = 3


def _queues_a_delivery_kept_before(store: SQLiteStore | PostgresStore) -> None:
    """The failed delivery `old:complete` written by the older schema reads with no rings, is
    queued again keeping its attempts, and is then due for a ring."""
    kept = store.get("old:complete")
    assert kept is not None and (kept.status, kept.rings) == (DeliveryStatus.FAILED, 0)
    queued = store.queue(delivery("old"))
    assert (queued.result, queued.attempts) == (ClaimResult.NEW, 2)
    assert [d.key for d in store.sweepable(older_than=0, max_rings=1)] == ["old:complete"]


def test_a_sqlite_file_from_before_queued_migrates_in_place(tmp_path: Path):
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in _MIGRATIONS[: _QUEUED_SINCE_SQLITE - 1]:
        for statement in script:
            conn.execute(statement)
    conn.execute("CREATE TABLE suno_hooks_schema (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO suno_hooks_schema (version) VALUES (?)", (_QUEUED_SINCE_SQLITE - 1,))
    now = time.time()
    conn.execute(
        "INSERT INTO suno_hooks_deliveries (key, task_id, stage, terminal, kind, status, "
        "attempts, error, received_at, updated_at, meta, body) "
        "VALUES ('old:complete', 'old', 'complete', 1, 'music', 'failed', 2, 'boom', ?, ?, "
        "'{}', X'7B7D')",
        (now, now),
    )
    conn.close()
    store = SQLiteStore(path)
    _queues_a_delivery_kept_before(store)
    with sqlite3.connect(path) as check:
        version = check.execute("SELECT version FROM suno_hooks_schema").fetchone()
    assert version == (SCHEMA_VERSION,)
    store.close()


def test_a_postgresql_schema_from_before_queued_migrates_in_place(
    postgres_server: PostgresServer,
):
    url = postgres_schema_url(postgres_server)
    with psycopg.connect(url, autocommit=True) as conn:
        for script in MIGRATIONS[: _QUEUED_SINCE_POSTGRES - 1]:
            for statement in script:
                conn.execute(statement.encode())
        conn.execute("CREATE TABLE suno_hooks_schema (version integer NOT NULL)")
        conn.execute(
            "INSERT INTO suno_hooks_schema (version) VALUES (%s)", (_QUEUED_SINCE_POSTGRES - 1,)
        )
        conn.execute(
            "INSERT INTO suno_hooks_deliveries (key, task_id, stage, terminal, kind, status, "
            "attempts, error, received_at, updated_at, meta, body) VALUES ('old:complete', "
            "'old', 'complete', true, 'music', 'failed', 2, 'boom', now(), now(), '{}', '{}')"
        )
    store = PostgresStore(url)
    _queues_a_delivery_kept_before(store)
    rows = store._rows("SELECT version FROM suno_hooks_schema", ())
    assert rows == [(len(MIGRATIONS),)]
    store.close()


@pytest.mark.django_db
def test_the_django_models_match_their_migrations():
    from django.core.management import call_command

    # Exits with status 1 when the models need a migration the app does not ship.
    call_command("makemigrations", "suno_hooks", "--check", "--dry-run", verbosity=0)
