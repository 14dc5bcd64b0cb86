"""A worker killed mid-handler, end to end: a real Receiver behind a real server rings a real
`celery worker --pool=solo` or `rq worker` against a real redis-server; the worker is killed with
SIGKILL while a 2-second handler runs, and the sweeper brings every delivery to done.

Each test counts what happened to the callbacks it sent: sent, run once, doubled (a handler
started twice; allowed only where a killed worker's handler had already started) and lost."""

from __future__ import annotations

from pathlib import Path

from ..support.faults import fault_server
from ..support.handoff_e2e import (
    SITE,
    send,
    site_env,
    survived_a_kill,
    sweep_until_done,
    sweeper,
    worker,
)
from ..support.handoff_ledger import LEDGER_ENV, Ledger
from ..support.handoff_rq_worker import PROMPT_WORKER
from ..support.services import RedisServer


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
            sweep_until_done(receiver, keys, older_than=1, timeout=90)
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
            sweep_until_done(receiver, keys, older_than=2, timeout=60)
    finally:
        second.stop()
    survived_a_kill("rq worker", ledger, keys, killed)
    assert killed and all(ledger.phases("started")[key] == 2 for key in killed)
