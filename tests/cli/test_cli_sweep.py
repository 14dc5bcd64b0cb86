"""`--sweep-after SECONDS` on `suno-hooks reconcile` and `suno-hooks serve --reconcile`: how long
a delivery waits queued before the sweeper rings it again, positive."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from suno_hooks import Receiver
from suno_hooks.cli import cli
from suno_hooks.cli.tasks import make_reconciler, reconcile_and_sweep
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus
from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.handoff_bell import Bell

HMAC_KEY = "whk_cli_sweep"
BELL = "tests.support.handoff_bell:Bell"


def queued(store: str, task_id: str) -> str:
    """Receive a signed callback through a receiver whose hand-off keeps its rings (so nothing
    runs it): its delivery stays `queued`. Its key."""
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=Bell())
    body = encode(make_callback("music", "complete", task_id=task_id))
    answer = receiver.handle(InboundRequest("POST", body, sign_headers(body, HMAC_KEY)))
    assert answer.body == {"status": "queued"}
    receiver.store.close()
    return f"{task_id}:complete"


def rings(store: str, key: str) -> int:
    """How many times the sweeper rang the delivery `key`, still `queued`."""
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store)
    kept = receiver.store.get(key)
    receiver.store.close()
    assert kept is not None and kept.status is DeliveryStatus.QUEUED
    return kept.rings


@pytest.mark.parametrize("command", [["serve", "--reconcile"], ["reconcile", "--once"]])
@pytest.mark.parametrize("seconds", ["0", "-5", "soon"])
def test_sweep_after_must_be_a_positive_number(command: list[str], seconds: str, tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    args = [*command, "--store", store, "--sweep-after", seconds]
    result = CliRunner().invoke(cli, args, env={"SUNO_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--sweep-after'" in result.output


def test_reconcile_rings_only_what_waited_longer_than_sweep_after(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    key = queued(store, "sweep-after")
    once = ["reconcile", "--once", "--store", store, "--handoff", BELL, "--api-key", "k"]
    runner = CliRunner()
    kept = runner.invoke(cli, [*once, "--sweep-after", "3600"])
    assert kept.exit_code == 0, kept.output
    assert "sweep: rang 0 queued deliveries again" in kept.output
    assert rings(store, key) == 0
    time.sleep(0.3)
    rung = runner.invoke(cli, [*once, "--sweep-after", "0.2"])
    assert rung.exit_code == 0, rung.output
    assert "sweep: rang 1 queued deliveries again" in rung.output
    assert rings(store, key) == 1


def test_the_reconciler_thread_sweeps_every_sweep_after_when_sooner_than_its_polls(
    tmp_path: Path,
):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    bell = Bell()
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=bell)
    key = queued(store, "sweep-often")
    reconciler = make_reconciler(receiver, "k", None, every=3600)
    stop = threading.Event()
    sweeping = threading.Thread(target=reconcile_and_sweep, args=(reconciler, receiver, stop, 1))
    sweeping.start()
    try:
        deadline = time.monotonic() + 30
        while bell.rings.count(key) < 2:  # rung again a second after each ring
            assert time.monotonic() < deadline, bell.rings
            time.sleep(0.05)
    finally:
        stop.set()
        sweeping.join(30)
        reconciler.client.close()
        receiver.store.close()
    assert rings(store, key) >= 2
