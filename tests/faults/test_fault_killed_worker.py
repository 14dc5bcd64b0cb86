"""Issue 12, case 2, under gunicorn: a worker SIGKILLed inside its handler while the sender
stops retrying before the lease ends. The delivery is listed `abandoned` once the lease is over,
and `replay_failed()` or `suno-hooks replay --handlers` runs it exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from suno_hooks import Event, callback_received
from suno_hooks.stores import DeliveryStatus, SQLiteStore

from ..conftest import unverified_receiver
from ..support.cli_helpers import run_cli
from ..support.faults import (
    PAUSE_PREFIX,
    FaultServer,
    KieSender,
    Pause,
    Sent,
    callbacks,
    dumps,
    fault_env,
    fault_server,
    tally,
)

LEASE = 2.0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultServer, Pause, str]]:
    """The receiver on a SQLite file under gunicorn (2 workers, lease 2 s); the FIFOs its
    paused handlers talk through; the store URL."""
    directory = tmp_path_factory.mktemp("killed")
    pause = Pause(directory)
    store = f"sqlite:///{directory / 'inbox.db'}"
    env = fault_env(directory, store, FAULT_LEASE=str(LEASE), **pause.env())
    with fault_server("gunicorn", "tests.support.fault_app:wsgi", env) as server:
        yield server, pause, store


def kill_a_worker_mid_handler(site: tuple[FaultServer, Pause, str], name: str) -> list[Sent]:
    """Send a paused callback for task `pause-NAME` and, while its worker holds it, ten others;
    SIGKILL the holding worker; every callback's tries, the paused one first."""
    server, pause, _ = site
    held: list[Sent] = []
    with KieSender(server.url) as sender:
        paused = callbacks(f"{PAUSE_PREFIX}-{name}", 1)[0]
        holder = threading.Thread(target=lambda: held.append(sender.send(paused)))
        holder.start()
        pid = pause.wait_entered()
        others = sender.send_all(callbacks(f"{name}-other", 10))
        os.kill(pid, signal.SIGKILL)
        holder.join(60)
    return held + others


def wait_abandoned(store: SQLiteStore, key: str) -> None:
    """Until the store lists `key` as abandoned (its lease ended with no owner left)."""
    deadline = time.monotonic() + 5 * LEASE
    while time.monotonic() < deadline:
        kept = store.get(key)
        assert kept is not None and kept.status in (
            DeliveryStatus.PROCESSING,
            DeliveryStatus.ABANDONED,
        ), kept
        if kept.status is DeliveryStatus.ABANDONED:
            return
        time.sleep(0.05)
    pytest.fail(f"{key} was never listed as abandoned")


@contextmanager
def abandoned_by_a_killed_worker(
    site: tuple[FaultServer, Pause, str], name: str
) -> Iterator[tuple[str, SQLiteStore]]:
    """Kill a worker mid-handler (`kill_a_worker_mid_handler`) and check what the sender and
    the store saw: the held callback got no answer, then `in_progress` until the sender gave
    up; the others landed; the held one is listed abandoned. Yields its key and the store for
    the test to recover it; afterwards checks it is done on its second attempt and every
    callback ran exactly once."""
    server, _, url = site
    sent = kill_a_worker_mid_handler(site, name)
    held, others = sent[0], sent[1:]
    assert not held.acknowledged, dumps(sent)
    assert held.tries[0].status is None  # the connection died with the worker
    assert [t.status for t in held.tries[1:]] == [409, 409], dumps(sent)
    assert [s.statuses for s in others] == [[200]] * len(others), dumps(sent)
    store = SQLiteStore(url.removeprefix("sqlite:///"))
    try:
        wait_abandoned(store, held.key)
        assert held.key in [d.key for d in store.deliveries(status="abandoned")]
        assert tally(server.log, [s.key for s in sent]).lost == [held.key]
        yield held.key, store
        kept = store.get(held.key)
        assert kept is not None and kept.status is DeliveryStatus.DONE and kept.attempts == 2
    finally:
        store.close()
    counts = tally(server.log, [s.key for s in sent]).counts()
    assert counts == {"dispatched": len(sent), "lost": 0, "doubled": 0}


def test_replay_failed_recovers_a_killed_workers_delivery_once(
    site: tuple[FaultServer, Pause, str],
):
    server = site[0]

    def record(sender: Any, event: Event, **extra: Any) -> None:
        server.log.record(event.dedupe_key)

    with abandoned_by_a_killed_worker(site, "replay") as (key, store):
        receiver = unverified_receiver(store=store, lease=LEASE)
        with callback_received.connected_to(record):
            outcomes = receiver.replay_failed()
            assert receiver.replay_failed() == {}
        assert {k: o.body for k, o in outcomes.items()} == {key: {"status": "received"}}


def test_the_replay_command_recovers_a_killed_workers_delivery_once(
    site: tuple[FaultServer, Pause, str],
):
    server, _, url = site
    env = fault_env(server.log.path.parent, url)
    replay = ["replay", "--store", url, "--handlers", "tests.support.fault_handlers"]
    with abandoned_by_a_killed_worker(site, "cli") as (key, _):
        result = run_cli(*replay, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{key}  replayed: 200 received" in result.stdout
        assert "replayed 1 of 1" in result.stdout
        assert "nothing to replay" in run_cli(*replay, env=env).stdout
