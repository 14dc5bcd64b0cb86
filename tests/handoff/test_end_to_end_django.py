"""Django's tasks hand-off, end to end: the Django view (sync and async) answers signed
callbacks, `manage.py db_worker` (django-tasks-db) runs a 2-second handler; a worker killed
mid-handler is swept by `manage.py suno_hooks sweep`.

Each test counts what happened to the callbacks it sent: sent, run once, doubled (a handler
started twice; allowed only where a killed worker's handler had already started) and lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ..support.faults import HMAC_KEY, fault_server
from ..support.handoff_e2e import (
    counts,
    send,
    survived_a_kill,
)
from ..support.handoff_ledger import Ledger
from ..support.handoff_workers import ROOT, WorkerProcess, worker_env

DJANGO_SITE = "tests.support.handoff_django_site"


def django_site(ledger: Ledger, tmp_path: Path, **extra: str) -> tuple[dict[str, str], Path]:
    """The Django project's environment, its database migrated."""
    database = tmp_path / "site.sqlite3"
    env = worker_env(
        ledger,
        DJANGO_SETTINGS_MODULE=DJANGO_SITE,
        SUNO_HOOKS_TEST_DJANGO_DB=str(database),
        SITE_HMAC=HMAC_KEY,
        FAULT_LOG=str(tmp_path / "unused.log"),
        **extra,
    )
    manage(env, "migrate", "--verbosity=0")
    return env, database


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def db_worker(env: dict[str, str], log: Path) -> WorkerProcess:
    command = [sys.executable, "-m", "django", "db_worker", "--no-startup-delay"]
    command += ["--interval", "0.1", "--no-reload"]
    return WorkerProcess(command, env, log, ready="Starting worker")


def statuses(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as db:
        return dict(db.execute("SELECT key, status FROM suno_hooks_delivery").fetchall())


def test_django_views_and_db_worker_run_each_handler_once(ledger: Ledger, tmp_path: Path):
    env, database = django_site(ledger, tmp_path)
    running = db_worker(env, tmp_path / "worker.log").start()
    keys = []
    try:
        wsgi = "django.core.wsgi:get_wsgi_application()"
        with fault_server("gunicorn", wsgi, env) as site:
            keys += [send(site.url, f"e2e-django-sync-{n}", ledger) for n in range(2)]
        asgi = ["--factory"]
        with fault_server(
            "uvicorn", "django.core.asgi:get_asgi_application", env, options=asgi
        ) as site:
            url = site.url.replace("/suno/callback", "/suno-async/callback")
            keys += [send(url, f"e2e-django-async-{n}", ledger) for n in range(2)]
        ledger.wait_for("done", keys, timeout=60)
        time.sleep(0.5)
    finally:
        running.stop()
    assert counts(ledger, keys) == {"sent": 4, "run once": 4, "doubled": 0, "lost": 0}
    assert statuses(database) == dict.fromkeys(keys, "done")


def test_a_killed_db_worker_is_swept_by_the_management_command(ledger: Ledger, tmp_path: Path):
    env, database = django_site(ledger, tmp_path, SITE_LEASE="2", SITE_HANDLER_SECONDS="3")
    log = tmp_path / "worker.log"
    first = db_worker(env, log).start()
    with fault_server("gunicorn", "django.core.wsgi:get_wsgi_application()", env) as site:
        keys = [send(site.url, f"e2e-django-killed-{n}", ledger) for n in range(2)]
    ledger.wait_for("started", keys[:1], timeout=60)
    first.kill()  # the task stays RUNNING in the database for good
    killed = [key for key in keys if ledger.phases("started")[key] > 0]
    second = db_worker(env, log).start()
    try:
        deadline = time.monotonic() + 90
        while statuses(database) != dict.fromkeys(keys, "done"):
            assert time.monotonic() < deadline, statuses(database)
            manage(env, "suno_hooks", "sweep", "--once", "--older-than", "1")
            time.sleep(1)
    finally:
        second.stop()
    survived_a_kill("db_worker", ledger, keys, killed)
