"""A real Receiver with a hand-off, end to end: gunicorn (sync workers) or uvicorn receive signed
callbacks, a real `rq worker` or `celery worker --pool=solo` runs a 2-second handler, against a
real redis-server; with a ring lost on purpose and the broker stopped, the sweeper brings every
delivery to done (a worker killed mid-handler: `test_end_to_end_kills.py`).

Each test counts what happened to the callbacks it sent: sent, run once, doubled (a handler
started twice; allowed only where a killed worker's handler had already started) and lost."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ..support.faults import fault_server
from ..support.handoff_e2e import (
    SITE,
    all_done,
    counts,
    ring_failure_logged,
    send,
    site_env,
    sweeper,
    worker,
)
from ..support.handoff_ledger import Ledger
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
