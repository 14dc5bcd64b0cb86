"""A real Receiver with a hand-off, end to end: gunicorn (sync workers) or uvicorn receive signed
callbacks, a real `rq worker` or `celery worker --pool=solo` runs a 2-second handler, against a
real redis-server; with a ring lost on purpose, a worker killed mid-handler and the broker
stopped, the sweeper brings every delivery to done.

Each test counts what happened to the callbacks it sent: sent, run once, doubled (a handler
started twice; allowed only where a killed worker's handler had already started) and lost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..support.faults import HMAC_KEY, fault_server
from ..support.handoff_e2e import (
    SITE,
    all_done,
    counts,
    ring_failure_logged,
    send,
    site_env,
    survived_a_kill,
    sweeper,
    worker,
)
from ..support.handoff_ledger import LEDGER_ENV, Ledger
from ..support.handoff_rq_worker import PROMPT_WORKER
from ..support.handoff_workers import ROOT, WorkerProcess, worker_env
from ..support.services import RedisServer


@pytest.mark.parametrize(("engine", "server"), [("rq", "gunicorn"), ("celery", "uvicorn")])
def test_answers_come_before_the_handlers_and_each_runs_once(
    engine: str, server: str, broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env(engine, broker, ledger, store)
    app = f"{SITE}:{'wsgi' if server == 'gunicorn' else 'asgi'}"
    running = worker(engine, env, tmp_path / "worker.log").start()
    try:
        with fault_server(server, app, env) as site:
            keys = [send(site.url, f"e2e-{engine}-{n}", ledger) for n in range(4)]
        ledger.wait_for("done", keys, timeout=60)
        time.sleep(0.5)
    finally:
        running.stop()
    assert counts(ledger, keys) == {"sent": 4, "run once": 4, "doubled": 0, "lost": 0}
    with sweeper(engine, broker, store) as receiver:
        assert all_done(receiver, keys)
        assert receiver.sweep(older_than=0) == {}


def test_a_lost_ring_and_a_stopped_broker_are_swept_later_with_rq(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("rq", broker, ledger, store, SITE_HANDLER_SECONDS="0.2")
    with fault_server("gunicorn", f"{SITE}:wsgi", env) as site:
        lost = send(site.url, "e2e-lost-ring", ledger)
        with sweeper("rq", broker, store) as receiver:
            handoff: Any = receiver.handoff
            deadline = time.monotonic() + 10
            while handoff.queue.count < 1:  # the server rings from its sending thread
                assert time.monotonic() < deadline
                time.sleep(0.02)
            handoff.queue.empty()  # the ring is lost on purpose
        broker.stop()
        during = [send(site.url, f"e2e-broker-down-{n}", ledger) for n in range(2)]
        broker.start()
    served = site.process.stdout.read() if site.process.stdout else ""
    for key in during:  # each failed ring was logged by the server that answered it
        assert ring_failure_logged(served, key), served
    keys = [lost, *during]
    running = worker("rq", env, tmp_path / "worker.log").start()
    try:
        time.sleep(1.0)
        assert ledger.phases("started") == {}  # nothing reached the worker
        with sweeper("rq", broker, store) as receiver:
            assert receiver.sweep(older_than=0.5) == dict.fromkeys(keys, True)
            ledger.wait_for("done", keys, timeout=60)
            deadline = time.monotonic() + 10
            while not all_done(receiver, keys):
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        running.stop()
    assert counts(ledger, keys) == {"sent": 3, "run once": 3, "doubled": 0, "lost": 0}


def test_a_worker_killed_mid_handler_is_swept_and_run_again_with_celery(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("celery", broker, ledger, store, SITE_LEASE="2", SITE_HANDLER_SECONDS="3")
    log = tmp_path / "worker.log"
    first = worker("celery", env, log).start()
    with fault_server("uvicorn", f"{SITE}:asgi", env) as site:
        keys = [send(site.url, f"e2e-killed-{n}", ledger) for n in range(3)]
    ledger.wait_for("started", keys[:1], timeout=60)
    first.kill()  # SIGKILL mid-handler: its message stays unacknowledged for an hour
    killed = [key for key in keys if ledger.phases("started")[key] > 0]
    second = worker("celery", env, log).start()
    try:
        with sweeper("celery", broker, store) as receiver:
            deadline = time.monotonic() + 90
            while not all_done(receiver, keys):
                assert time.monotonic() < deadline, receiver.store.get(keys[0])
                receiver.sweep(older_than=1)
                time.sleep(0.5)
    finally:
        second.stop()
    survived_a_kill("worker", ledger, keys, killed)
    assert LEDGER_ENV in env


def test_a_worker_killed_mid_handler_is_swept_and_run_again_with_rq(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("rq", broker, ledger, store, SITE_LEASE="3")  # the handler takes 2 s
    log = tmp_path / "worker.log"
    # Its job's heartbeat lapses seconds after the kill, where RQ's own margin is a minute.
    first = worker("rq", env, log, *PROMPT_WORKER).start()
    with fault_server("gunicorn", f"{SITE}:wsgi", env) as site:
        keys = [send(site.url, f"e2e-rq-killed-{n}", ledger) for n in range(4)]
    ledger.wait_for("started", keys[:1], timeout=60)
    first.kill()  # the worker and its work horse: RQ keeps the job `started`
    killed = [key for key in keys if ledger.phases("started")[key] > 0]
    second = worker("rq", env, log, *PROMPT_WORKER).start()
    try:
        with sweeper("rq", broker, store) as receiver:
            deadline = time.monotonic() + 60
            while not all_done(receiver, keys):
                assert time.monotonic() < deadline, receiver.store.get(keys[0])
                receiver.sweep(older_than=2)
                time.sleep(0.5)
    finally:
        second.stop()
    survived_a_kill("rq worker", ledger, keys, killed)
    assert killed and all(ledger.phases("started")[key] == 2 for key in killed)


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
