"""A Django process killed after its receiver saved an order and the delivery was marked
`done`, before either committed, on a SQLite file and on PostgreSQL: the database keeps
neither, so the delivery is left `processing` under its lease with no order saved, and the
sender's retry in another process, once the lease has ended, saves the order exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.django_crash import CRASHED
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


def test_a_crash_before_the_commit_keeps_neither_the_order_nor_the_done_mark(
    database: dict[str, str],
) -> None:
    settings = json.dumps(database)
    migrated = run("tests.support.django_worker", "migrate", settings)
    assert migrated.returncode == 0, migrated.stderr
    task_id = uuid.uuid4().hex
    raw = encode(make_callback(task_id=task_id))
    callback: dict[str, Any] = {
        "task_id": task_id,
        "body": raw.decode(),
        "headers": sign_headers(raw, HMAC_KEY),
    }

    crashed = run("tests.support.django_crash", "crash", settings, json.dumps(callback))
    assert crashed.returncode == CRASHED, crashed.stderr
    assert crashed.stdout == ""

    retried = run("tests.support.django_crash", "retry", settings, json.dumps(callback))
    assert retried.returncode == 0, retried.stderr
    seen = json.loads(retried.stdout)
    assert seen["before"] == {"delivery": ["processing", 1], "orders": []}
    assert seen["answer"] == {"status": "received"}
    assert seen["after"] == {"delivery": ["done", 2], "orders": [f"{task_id}-retry"]}
