"""Exactly once across processes on a shared durable store: concurrent workers, a worker killed
inside its handler, and redelivery after the lease."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from suno_hooks import callback_received
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support import workers
from ..support.faults import DispatchLog

SHARED_KINDS = ["sqlite", "redis", "redis_cluster", "postgres"]
spawn = multiprocessing.get_context("spawn")


@pytest.fixture(params=SHARED_KINDS)
def shared_url(request: pytest.FixtureRequest) -> str:
    """A store URL several processes can share."""
    url: str = request.getfixturevalue(f"{request.param}_shared_url")
    return url


def hundred_callbacks() -> tuple[list[bytes], set[str]]:
    """25 music tasks (text, first, complete) and 25 WAV tasks: 100 bodies; the terminal keys."""
    bodies: list[bytes] = []
    terminal: set[str] = set()
    for i in range(25):
        for stage in ("text", "first", "complete"):
            bodies.append(encode(make_callback("music", stage, task_id=f"music{i}")))
        terminal.add(f"music{i}:complete")
        bodies.append(encode(make_callback("wav", "complete", task_id=f"wav{i}")))
        terminal.add(f"wav{i}:complete")
    return bodies, terminal


def test_four_processes_dispatch_each_callback_once(shared_url: str, tmp_path: Path):
    bodies, terminal = hundred_callbacks()
    dispatch_log = tmp_path / "dispatched.log"
    dispatch_log.touch()
    start = spawn.Barrier(4)
    answers = [tmp_path / f"answers{n}.json" for n in range(4)]
    processes = [
        spawn.Process(
            target=workers.deliver_all,
            args=(shared_url, bodies, str(dispatch_log), str(answers[n]), n, start),
        )
        for n in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0

    dispatched = DispatchLog(dispatch_log).runs()
    assert all(count == 1 for count in dispatched.values()), dispatched.most_common(3)
    assert terminal <= set(dispatched)
    received: Counter[str] = Counter()
    for path in answers:
        replies = json.loads(path.read_text())
        assert len(replies) == 100
        for key, status, body in replies:
            assert status == 200, body
            assert body["status"] in ("received", "duplicate", "stale")
            if body["status"] == "received":
                received[key] += 1
    assert received == dispatched


def test_worker_killed_in_handler_is_redelivered_once(shared_url: str, tmp_path: Path):
    body = encode(make_callback(task_id="killed-task"))
    marker = tmp_path / "started"
    worker = spawn.Process(
        target=workers.hang_in_handler, args=(shared_url, body, str(marker), 2.0)
    )
    worker.start()
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the worker never reached its handler"
    claimed_at = float(marker.read_text() or time.time())
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(10)
    assert worker.exitcode == -signal.SIGKILL

    receiver = unverified_receiver(store=shared_url)
    seen: list[str] = []

    def count(sender: Any, event: Any, **extra: Any) -> None:
        seen.append(event.dedupe_key)

    with callback_received.connected_to(count):
        early = receiver.handle(InboundRequest("POST", body))
        assert (early.status, early.body["error"]) == (409, "in_progress")
        time.sleep(max(0.0, claimed_at + 2.2 - time.time()))
        again = receiver.handle(InboundRequest("POST", body))
        assert again.body == {"status": "received"}
        assert receiver.handle(InboundRequest("POST", body)).body == {"status": "duplicate"}
    assert seen == ["killed-task:complete"]
    kept = receiver.store.get("killed-task:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE and kept.attempts == 2
    receiver.store.close()
