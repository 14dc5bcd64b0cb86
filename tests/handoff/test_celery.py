"""`CeleryHandoff` with a real `celery worker --pool=solo` on a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish
from celery.utils.saferepr import saferepr

from suno_hooks.contrib.celery import TASK_NAME, CeleryHandoff, bound_receiver
from suno_hooks.handoff import HandoffError

from ..support.handoff_celery_app import QUEUE, build
from ..support.handoff_ledger import Ledger
from ..support.handoff_workers import BIN, WorkerProcess, worker_env
from ..support.services import RedisServer


def celery_worker(broker: RedisServer, ledger: Ledger, log: Path, **env: str) -> WorkerProcess:
    command = [str(BIN / "celery"), "-A", "tests.support.handoff_celery_app", "worker"]
    command += ["--pool=solo", "-Q", QUEUE, "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", "--loglevel=INFO"]
    environment = worker_env(ledger, SUNO_HOOKS_TEST_BROKER=broker.url, **env)
    return WorkerProcess(command, environment, log, ready="ready.")


@pytest.fixture
def handoff(broker: RedisServer) -> Iterator[CeleryHandoff]:
    """The web side's hand-off: same app module, no receiver needed to ring."""
    app, handoff = build(broker.url)
    yield handoff
    app.close()


@pytest.fixture
def direct(broker: RedisServer) -> Iterator[CeleryHandoff]:
    """The same with its fan-out off: a batch is one message per key, from the web side."""
    app, handoff = build(broker.url, fan_out=False)
    yield handoff
    app.close()


def test_each_ring_runs_once_in_the_worker(
    broker: RedisServer, ledger: Ledger, handoff: CeleryHandoff, tmp_path: Path
):
    worker = celery_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        keys = [f"celery-{n}" for n in range(25)]
        for key in keys:
            handoff.ring(key)
        done = ledger.wait_for("done", keys)
        time.sleep(0.5)  # a duplicate would land now
        assert ledger.phases("done") == dict.fromkeys(keys, 1) == done
        assert {pid for key in keys for pid in ledger.pids(key)} == {worker.pid}
    finally:
        worker.stop()


def test_a_killed_worker_s_message_comes_back_after_the_visibility_timeout(
    broker: RedisServer, ledger: Ledger, handoff: CeleryHandoff, tmp_path: Path
):
    log = tmp_path / "worker.log"
    first = celery_worker(broker, ledger, log, SUNO_HOOKS_TEST_VISIBILITY="2").start()
    handoff.ring("slow:killed")
    ledger.wait_for("started", ["slow:killed"])
    first.kill()  # acknowledged late: the message stays unacked in Redis
    ledger.release("slow:killed")
    second = celery_worker(broker, ledger, log, SUNO_HOOKS_TEST_VISIBILITY="2").start()
    try:
        ledger.wait_for("done", ["slow:killed"], timeout=30)
        assert ledger.phases("started")["slow:killed"] == 2
        assert ledger.phases("done")["slow:killed"] == 1
        assert ledger.pids("slow:killed") == {first_pid(ledger, "slow:killed"), second.pid}
    finally:
        second.stop()


def first_pid(ledger: Ledger, key: str) -> int:
    with ledger._connect() as db:
        row = db.execute("SELECT pid FROM runs WHERE key = ? ORDER BY at LIMIT 1", (key,))
        (pid,) = row.fetchone()
    return int(pid)


def test_a_broker_that_is_down_fails_the_ring_quickly_and_the_next_ring_goes_through(
    broker: RedisServer, ledger: Ledger, handoff: CeleryHandoff, tmp_path: Path
):
    worker = celery_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        handoff.ring("before")
        ledger.wait_for("done", ["before"])
        broker.stop()
        started = time.monotonic()
        with pytest.raises(HandoffError, match="Celery could not send during") as caught:
            handoff.ring("during")
        assert time.monotonic() - started < 15
        assert "redis://" not in str(caught.value)
        time.sleep(2)
        broker.start()
        handoff.ring("after")
        ledger.wait_for("done", ["after"], timeout=60)
        assert ledger.phases("done") == {"before": 1, "after": 1}
    finally:
        worker.stop()


def test_the_task_is_registered_acknowledged_late_and_runs_the_bound_receiver(
    broker: RedisServer, ledger: Ledger
):
    from ..support.handoff_ledger import RecordingReceiver

    app, handoff = build(broker.url)
    task = app.tasks[TASK_NAME]
    assert task.acks_late and task.reject_on_worker_lost and task.ignore_result
    handoff.bind(RecordingReceiver(ledger))
    assert isinstance(bound_receiver(), RecordingReceiver)
    task("in-process")  # the task body, called directly
    assert ledger.phases("done") == {"in-process": 1}
    app.close()


def test_a_batch_goes_over_one_producer_and_each_key_runs_once_in_order(
    broker: RedisServer,
    ledger: Ledger,
    direct: CeleryHandoff,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handoff = direct  # as the fan-out's worker sends them
    pool = handoff.task.app.producer_pool
    acquired: list[object] = []
    acquire = pool.acquire

    def counted(*args: Any, **kwargs: Any) -> Any:
        acquired.append(args)
        return acquire(*args, **kwargs)

    monkeypatch.setattr(pool, "acquire", counted)
    keys = [f"celery-batch-{n}" for n in range(30)]
    assert handoff.ring_many(keys) == {}
    assert len(acquired) == 1  # one checkout for the whole batch
    handoff.ring("celery-lone")
    assert len(acquired) == 2
    worker = celery_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", [*keys, "celery-lone"])
        time.sleep(0.5)  # a duplicate would land now
        assert ledger.phases("done") == dict.fromkeys([*keys, "celery-lone"], 1)
        assert ledger.order("started") == [*keys, "celery-lone"]
    finally:
        worker.stop()


def test_a_batch_to_a_broker_that_is_down_fails_whole_and_the_next_goes_through(
    broker: RedisServer, ledger: Ledger, handoff: CeleryHandoff, tmp_path: Path
) -> None:
    keys = [f"celery-down-{n}" for n in range(5)]
    broker.stop()
    with pytest.raises(HandoffError, match="Celery could not send 5 deliveries") as caught:
        handoff.ring_many(keys)
    assert "redis://" not in str(caught.value)
    broker.start()
    assert handoff.ring_many(keys) == {}
    worker = celery_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", keys, timeout=60)
        time.sleep(0.5)
        assert ledger.phases("done") == dict.fromkeys(keys, 1)
    finally:
        worker.stop()


def test_a_batch_whose_broker_stops_midway_reports_the_keys_it_did_not_send(
    broker: RedisServer,
    ledger: Ledger,
    direct: CeleryHandoff,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handoff = direct
    keys = [f"celery-midway-{n}" for n in range(5)]
    apply_async = handoff.task.apply_async

    def stop_before_the_third(args: tuple[str], **options: Any) -> Any:
        if args[0] == keys[2]:
            broker.stop()
        return apply_async(args, **options)

    monkeypatch.setattr(handoff.task, "apply_async", stop_before_the_third)
    failed = handoff.ring_many(keys)
    assert list(failed) == keys[2:]
    assert str(failed[keys[2]]).startswith("Celery could not send 3 deliveries: ")
    monkeypatch.undo()
    broker.start()
    assert handoff.ring_many(list(failed)) == {}
    worker = celery_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", keys, timeout=60)
        time.sleep(0.5)
        assert ledger.phases("done") == dict.fromkeys(keys, 1)
    finally:
        worker.stop()


def test_the_messages_show_their_arguments_as_celery_writes_them(
    direct: CeleryHandoff,
) -> None:
    keys = ["task-a:complete", "task-é:first", "x" * 2000]
    with published() as sent:
        assert direct.ring_many(keys) == {}
    assert [(h["argsrepr"], h["kwargsrepr"]) for h in sent] == [
        (saferepr((key,), 1024), saferepr({}, 1024)) for key in keys
    ]


@contextmanager
def published() -> Iterator[list[dict[str, Any]]]:
    """The headers of each task message published in this process meanwhile, in order."""
    sent: list[dict[str, Any]] = []

    def keep(headers: dict[str, Any], **_: Any) -> None:
        sent.append(headers)

    before_task_publish.connect(keep, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(keep)
