"""`CeleryHandoff` sends a batch of two keys or more as one fan-out message, whose real `celery
worker --pool=solo`, on a real redis-server, sends each key's own task; a lone key is sent
directly, and a fan-out lost with its worker leaves its deliveries to the sweeper."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from celery.utils.saferepr import saferepr

from suno_hooks.contrib.celery import FAN_OUT_TASK_NAME, TASK_NAME, CeleryHandoff
from suno_hooks.stores import DeliveryStatus

from ..support.handoff_celery_app import build
from ..support.handoff_e2e import (
    all_done,
    counts,
    kept_statuses,
    record_queued,
    site_env,
    sweep_until_done,
    sweeper,
    worker,
)
from ..support.handoff_ledger import Ledger
from ..support.services import RedisServer
from .test_celery import celery_worker, published


def test_a_batch_is_one_message_whose_worker_sends_each_key_s_task(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    (app, handoff), (direct_app, direct) = build(broker.url), build(broker.url, fan_out=False)
    keys = [f"celery-fan-{n}" for n in range(30)]
    try:
        with published() as sent:
            assert handoff.ring_many(keys) == {}
            assert handoff.ring_many(["lone"]) == {}
            assert direct.ring_many(["off-1", "off-2"]) == {}
        assert [h["task"] for h in sent] == [FAN_OUT_TASK_NAME, TASK_NAME, TASK_NAME, TASK_NAME]
        assert sent[0]["argsrepr"] == saferepr((keys,), 1024)  # cut at Celery's size limit
        fan_out = app.tasks[FAN_OUT_TASK_NAME]
        assert fan_out.acks_late and fan_out.reject_on_worker_lost and fan_out.ignore_result
        assert repr(direct).endswith("fan_out=False)")
    finally:
        app.close()
        direct_app.close()
    running = celery_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        everything = [*keys, "lone", "off-1", "off-2"]
        ledger.wait_for("done", everything)
        time.sleep(0.5)  # a duplicate would land now
        assert ledger.phases("done") == dict.fromkeys(everything, 1)
        assert ledger.order("started") == ["lone", "off-1", "off-2", *keys]  # sent behind them
    finally:
        running.stop()


def test_a_task_of_another_name_has_its_own_fan_out(broker: RedisServer) -> None:
    app, _ = build(broker.url)
    try:
        handoff = CeleryHandoff(app, name="myapp.run_queued")
        assert handoff.fan_out_task.name == "myapp.run_queued.fan_out"
        assert {"myapp.run_queued", "myapp.run_queued.fan_out"} <= set(app.tasks)
    finally:
        app.close()


def succeeded(output: str, task: str) -> int:
    """How many times a worker's log says the task `task` succeeded."""
    return sum(1 for line in output.splitlines() if f"Task {task}[" in line and "succeeded" in line)


def test_a_fan_out_sent_twice_runs_no_delivery_twice(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("celery", broker, ledger, store, SITE_HANDLER_SECONDS="0")
    keys = record_queued(store, [f"celery-fan-again-{n}" for n in range(6)])
    with sweeper("celery", broker, store) as receiver:
        handoff: Any = receiver.handoff
        assert handoff.ring_many(keys) == {}
        assert handoff.ring_many(keys) == {}  # a duplicate: each key's task is sent twice
        running = worker("celery", env, tmp_path / "worker.log").start()
        try:
            deadline = time.monotonic() + 60
            while succeeded(running.output(), TASK_NAME) < 2 * len(keys):
                assert time.monotonic() < deadline, running.output()[-4000:]
                time.sleep(0.1)
            assert succeeded(running.output(), FAN_OUT_TASK_NAME) == 2
            assert all_done(receiver, keys)
        finally:
            running.stop()
    assert counts(ledger, keys) == {"sent": 6, "run once": 6, "doubled": 0, "lost": 0}


def test_a_fan_out_whose_worker_is_killed_before_it_rang_leaves_the_deliveries_to_the_sweeper(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("celery", broker, ledger, store, SITE_HANDLER_SECONDS="0")
    keys = record_queued(store, [f"celery-fan-killed-{n}" for n in range(5)])
    log = tmp_path / "worker.log"
    with sweeper("celery", broker, store) as receiver:
        handoff: Any = receiver.handoff
        assert handoff.ring_many(keys) == {}
        first = worker("celery", dict(env, SITE_HOLD_FAN_OUT="1"), log).start()
        ledger.wait_for("held", [FAN_OUT_TASK_NAME])
        first.kill()  # the fan-out taken, unacknowledged, and no key sent
        assert kept_statuses(receiver, keys) == {DeliveryStatus.QUEUED}
        second = worker("celery", env, log).start()
        try:
            time.sleep(1.0)
            assert ledger.phases("started") == {}  # nothing reached the new worker
            sweep_until_done(receiver, keys, older_than=1, timeout=60, max_rings=100)
        finally:
            second.stop()
    assert counts(ledger, keys) == {"sent": 5, "run once": 5, "doubled": 0, "lost": 0}
