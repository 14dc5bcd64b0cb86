"""One setting for a task's first poll: the reconciler's `after`, counted from submission,
against the sandbox over real HTTP (the CLI's flags are in `test_reconcile_runners.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suno_hooks.client import SunoClient
from suno_hooks.reconcile import Reconciler
from suno_hooks.sandbox import SandboxHandle
from suno_hooks.stores import SQLiteStore

from ..support.sandbox_rig import API_KEY, CREATES, Rig, make_rig, rig_receiver, rig_timing

__all__ = ["make_rig", "rig_timing"]


@pytest.fixture
def rig(make_rig: Any, tmp_path: Path) -> Rig:
    built: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    return built


def test_after_zero_polls_a_just_submitted_task_on_the_first_pass(rig: Rig):
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    control.set_scenarios(["drop"], next_only=True)
    with rig.client() as client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
        control.wait(task_id)
        report = Reconciler(rig.receiver, client, after=0).run_once()
    control.close()
    assert (report.claimed, report.polled, report.delivered) == (1, 1, 1)
    (event,) = rig.terminal(task_id)
    assert event.source == "poll"


def test_the_reconcilers_after_alone_decides_the_first_poll(rig: Rig):
    store: Any = rig.receiver.store
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    control.set_scenarios(["drop"], next_only=True)
    with rig.client() as client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
        control.wait(task_id)
        report = Reconciler(rig.receiver, client, after=45).run_once()
    control.close()
    task = store.get_task(task_id)
    assert report.polled == 0 and rig.gate.polls[task_id] == 0
    assert task.next_poll_at - task.submitted_at == pytest.approx(45)


def test_the_clients_poll_after_is_deprecated_and_ignored(rig: Rig):
    with pytest.warns(DeprecationWarning, match="Reconciler's `after`"):
        client = SunoClient(API_KEY, base_url=rig.sandbox_url, poll_after=600)
    client.close()
