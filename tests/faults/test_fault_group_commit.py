"""Group commit under SIGKILL: a process killed inside a batch's transaction leaves none of the
batch behind, and a uvicorn server killed under concurrent load loses no callback: each one it
answered 200 is recorded done, and each one it did not answer is processed once when the sender
tries again."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

from suno_hooks.stores import ClaimResult, DeliveryStatus, SQLiteStore

from ..support.faults import (
    KieSender,
    Sent,
    Try,
    answers,
    callbacks,
    dumps,
    fault_env,
    fault_server,
    tally,
)
from ..support.group_commit import delivery, hang_mid_batch

spawn = multiprocessing.get_context("spawn")
LEASE = 1.0


def test_a_process_killed_inside_a_batch_leaves_none_of_it(tmp_path: Path) -> None:
    path, marker = tmp_path / "inbox.db", tmp_path / "inside"
    task_ids = [f"t{i}" for i in range(10)]
    worker = spawn.Process(target=hang_mid_batch, args=(str(path), task_ids, 6, str(marker)))
    worker.start()
    for _ in range(6000):
        if marker.exists() or not worker.is_alive():
            break
        time.sleep(0.01)
    assert marker.read_text() == "6", "the worker never reached the middle of its batch"
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(10)
    assert worker.exitcode == -signal.SIGKILL

    store = SQLiteStore(path)
    assert store.deliveries() == []  # six were written, none committed
    again = [store.claim(delivery(t), lease=60) for t in task_ids]
    assert [(c.result, c.attempts) for c in again] == [(ClaimResult.NEW, 1)] * 10
    store.close()


def wait_until_no_lease_is_live(store: SQLiteStore) -> None:
    """Until every lease the killed server held has ended (nothing is listed processing)."""
    for _ in range(1000):
        if not store.count_by_status().get(DeliveryStatus.PROCESSING.value):
            return
        time.sleep(0.01)
    raise AssertionError(f"leases still live: {store.count_by_status()}")


def test_a_uvicorn_server_killed_under_load_loses_no_callback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    env = fault_env(tmp_path, url, FAULT_LEASE=str(LEASE))
    bodies = callbacks("load", 400)
    keys = [f"load{i}:complete" for i in range(len(bodies))]
    acknowledged = itertools.count(1)

    with fault_server("uvicorn", "tests.support.fault_app:asgi", env) as server:
        kill = threading.Lock()

        def kill_after_a_hundred(sent: Sent, attempt: Try) -> None:
            if attempt.ok and next(acknowledged) == 100 and kill.acquire(blocking=False):
                os.kill(server.process.pid, signal.SIGKILL)

        with KieSender(server.url, after_try=kill_after_a_hundred) as sender:
            first = sender.send_all(bodies, concurrency=32)
        assert server.process.wait(10) == -signal.SIGKILL
        log = server.log

    answered = [s for s in first if s.acknowledged]
    unanswered = [s for s in first if not s.acknowledged]
    assert len(answered) >= 100 and unanswered, answers(first)
    store = SQLiteStore(tmp_path / "inbox.db")
    try:
        for sent in answered:
            kept = store.get(sent.key)
            assert kept is not None and kept.status is DeliveryStatus.DONE, (sent.key, kept)
        wait_until_no_lease_is_live(store)
        abandoned = [d.key for d in store.deliveries(status="abandoned", limit=1000)]

        with fault_server("uvicorn", "tests.support.fault_app:asgi", env) as server:
            by_key = dict(zip(keys, bodies, strict=True))
            with KieSender(server.url) as sender:
                retried = sender.send_all([by_key[s.key] for s in unanswered], concurrency=32)
        assert all(s.acknowledged for s in retried), dumps(retried)
        assert set(answers(retried)) <= {"200 received", "200 duplicate"}, answers(retried)
        # A handler the killed server ran but never finished runs once more: that delivery was
        # claimed, its lease ended, and the sender's retry took it over (at least once).
        assert tally(log, keys, rerun=abandoned).counts() == {
            "dispatched": len(keys),
            "lost": 0,
            "doubled": 0,
        }
        assert store.count_by_status() == {"done": len(keys)}
    finally:
        store.close()
