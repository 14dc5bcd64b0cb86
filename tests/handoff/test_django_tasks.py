"""The Django tasks hand-off with django-tasks-db's real `db_worker` on a SQLite database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..support.handoff_ledger import Ledger
from ..support.handoff_workers import ROOT, WorkerProcess, worker_env

SETTINGS = "tests.support.handoff_django_settings"


@pytest.fixture
def database(tmp_path: Path, ledger: Ledger) -> Path:
    """A migrated SQLite database for the tasks backend."""
    path = tmp_path / "tasks.sqlite3"
    manage(path, ledger, "migrate", "--verbosity=0")
    return path


def env(database: Path, ledger: Ledger) -> dict[str, str]:
    return worker_env(
        ledger, DJANGO_SETTINGS_MODULE=SETTINGS, SUNO_HOOKS_TEST_DJANGO_DB=str(database)
    )


def python(database: Path, ledger: Ledger, *args: str) -> str:
    """Run `python *args` with the tasks settings; its output, or the test fails."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env(database, ledger),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def manage(database: Path, ledger: Ledger, *args: str) -> str:
    return python(database, ledger, "-m", "django", *args)


def ring(database: Path, ledger: Ledger, *args: str) -> dict[str, int]:
    output = python(database, ledger, "-m", "tests.support.handoff_django_ring", *args)
    counts: dict[str, int] = json.loads(output.strip().splitlines()[-1])
    return counts


def db_worker(database: Path, ledger: Ledger, log: Path) -> WorkerProcess:
    command = [sys.executable, "-m", "django", "db_worker", "--no-startup-delay"]
    command += ["--interval", "0.1", "--no-reload"]
    return WorkerProcess(command, env(database, ledger), log, ready="Starting worker")


def settled(database: Path, expected: list[str], timeout: float = 30) -> list[str]:
    """The tasks' statuses once they equal `expected` (the worker records a task's end just
    after the task returns), or as they are after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (found := statuses(database)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def statuses(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT status FROM django_tasks_database_dbtaskresult ORDER BY enqueued_at"
        )
        return [status for (status,) in rows]


def test_rings_are_enqueued_on_commit_and_each_runs_once(
    database: Path, ledger: Ledger, tmp_path: Path
):
    keys = [f"django-{n}" for n in range(8)]
    assert ring(database, ledger, *keys) == {"inside": 0, "after": len(keys)}
    worker = db_worker(database, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", keys)
        time.sleep(0.5)
        assert ledger.phases("done") == dict.fromkeys(keys, 1)
        assert settled(database, ["SUCCESSFUL"] * len(keys)) == ["SUCCESSFUL"] * len(keys)
    finally:
        worker.stop()


def test_a_rolled_back_transaction_enqueues_nothing(database: Path, ledger: Ledger):
    assert ring(database, ledger, "--rollback", "never") == {"inside": 0, "after": 0}
    assert statuses(database) == []


def test_a_task_whose_worker_was_killed_stays_running_until_rung_again(
    database: Path, ledger: Ledger, tmp_path: Path
):
    log = tmp_path / "worker.log"
    first = db_worker(database, ledger, log).start()
    ring(database, ledger, "slow:killed")
    ledger.wait_for("started", ["slow:killed"])
    first.kill()
    ledger.release("slow:killed")
    second = db_worker(database, ledger, log).start()
    try:
        time.sleep(2)  # the worker polls every 0.1 s: it would have taken the task by now
        assert statuses(database) == ["RUNNING"]
        assert ledger.phases("started")["slow:killed"] == 1
        ring(database, ledger, "slow:killed")  # as the sweeper will
        ledger.wait_for("done", ["slow:killed"])
        assert ledger.phases("started")["slow:killed"] == 2
        assert ledger.phases("done")["slow:killed"] == 1
        assert settled(database, ["RUNNING", "SUCCESSFUL"]) == ["RUNNING", "SUCCESSFUL"]
    finally:
        second.stop()
