"""Four processes deliver the same 100 callbacks in random orders through the Django ORM store:
each is dispatched exactly once, on PostgreSQL and on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.django_worker import HMAC_KEY
from ..support.postgres import PostgresServer, running_postgres

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
CALLBACKS = 100


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


def worker(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.django_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def callbacks() -> list[dict[str, Any]]:
    """100 signed callbacks of different tasks, stages and kinds; a few with odd stages."""
    made = []
    now = int(time.time())
    for i in range(CALLBACKS):
        if i % 20 == 0:
            body = make_callback(callbackType=f"weird\u0000stage-{i}")
        elif i % 3 == 0:
            body = make_callback("lyrics", "complete" if i % 2 else "error")
        else:
            body = make_callback(stage=("text", "first", "complete", "error")[i % 4])
        raw = encode(body)
        made.append({"body": raw.decode(), "headers": sign_headers(raw, HMAC_KEY, now)})
    return made


def deliver_concurrently(database: dict[str, Any], tmp_path: Path) -> None:
    settings = json.dumps(database)
    finish(worker("migrate", settings))
    sent = callbacks()
    path = tmp_path / "callbacks.json"
    path.write_text(json.dumps(sent))
    start_at = str(time.time() + 4)
    processes = [
        worker("deliver", settings, str(path), str(seed), start_at) for seed in range(WORKERS)
    ]
    results = [json.loads(finish(p)) for p in processes]

    dispatched = Counter(key for r in results for key in r["dispatched"])
    assert len(dispatched) == CALLBACKS
    assert set(dispatched.values()) == {1}, [k for k, n in dispatched.items() if n > 1]
    answers: Counter[str] = Counter()
    for result in results:
        answers.update(result["answers"])
    assert answers == {"received": CALLBACKS, "duplicate": CALLBACKS * (WORKERS - 1)}


def test_four_processes_dispatch_each_callback_once_on_postgresql(
    postgres: PostgresServer, tmp_path: Path
):
    deliver_concurrently(postgres.django_database, tmp_path)


def test_four_processes_dispatch_each_callback_once_on_sqlite(tmp_path: Path):
    database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "suno.sqlite3"),
        "OPTIONS": {"timeout": 30},
    }
    deliver_concurrently(database, tmp_path)
