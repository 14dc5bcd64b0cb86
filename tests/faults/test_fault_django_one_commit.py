"""The `done` mark in the receivers' transaction, in real processes. One killed after its
receiver saved an order and the delivery was marked `done`, before either committed, on a
SQLite file and on PostgreSQL: the database keeps neither, so the delivery is left `processing`
under its lease with no order saved, and the sender's retry in another process, once the lease
has ended, saves the order exactly once. And on a SQLite file, receivers that only read while
another process writes still see their delivery marked `done`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.django_one_commit_worker import CRASHED
from ..support.django_worker import HMAC_KEY
from ..support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Django DATABASES entry of its own: a SQLite file, or a new PostgreSQL database on
    the session's server (dropped afterwards)."""
    if request.param == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "crash.sqlite3")}
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"crash_{uuid.uuid4().hex}"
    admin_url = f"postgresql://{server.user}@{server.host}:{server.port}/{server.name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield {**server.django_database, "NAME": name}
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


WORKER = "tests.support.django_one_commit_worker"


def migrated(database: dict[str, str]) -> str:
    """The database migrated; its settings as JSON."""
    settings = json.dumps(database)
    done = run("tests.support.django_worker", "migrate", settings)
    assert done.returncode == 0, done.stderr
    return settings


def callback_of(task_id: str) -> str:
    """A signed `complete` callback of `task_id`, as the worker reads it."""
    raw = encode(make_callback(task_id=task_id))
    callback = {"task_id": task_id, "body": raw.decode(), "headers": sign_headers(raw, HMAC_KEY)}
    return json.dumps(callback)


def test_a_crash_before_the_commit_keeps_neither_the_order_nor_the_done_mark(
    database: dict[str, str],
) -> None:
    settings = migrated(database)
    task_id = uuid.uuid4().hex
    callback = callback_of(task_id)

    crashed = run(WORKER, "crash", settings, callback)
    assert crashed.returncode == CRASHED, crashed.stderr
    assert crashed.stdout == ""

    retried = run(WORKER, "retry", settings, callback)
    assert retried.returncode == 0, retried.stderr
    seen = json.loads(retried.stdout)
    assert seen["before"] == {"delivery": ["processing", 1, None], "orders": []}
    assert seen["answer"] == {"status": "received"}
    assert seen["after"] == {"delivery": ["done", 2, None], "orders": [f"{task_id}-retry"]}


def test_receivers_that_only_read_beside_another_writer_are_marked_done(tmp_path: Path) -> None:
    """The receiver reads, then another connection holds the write lock for a moment: the
    mark, written on its own after the receivers' transaction, waits for the lock (SQLite
    would refuse the read transaction's upgrade at once) and the delivery is done."""
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "busy.sqlite3")}
    settings = migrated(database)
    task_id = uuid.uuid4().hex

    contended = run(WORKER, "contended", settings, callback_of(task_id))
    assert contended.returncode == 0, contended.stderr
    seen = json.loads(contended.stdout)
    assert seen["answer"] == {"status": "received"}
    assert seen["after"] == {"delivery": ["done", 1, None], "orders": [f"{task_id}-other"]}
