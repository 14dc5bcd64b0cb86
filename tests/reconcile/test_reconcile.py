"""The reconciler against the sandbox over real HTTP: lost callbacks recovered by polling,
exactly once whichever path wins, rate-limit and 5xx retries, tasks given up on."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from suno_hooks import Event, task_completed
from suno_hooks.client import AsyncSunoClient
from suno_hooks.reconcile import Reconciler
from suno_hooks.sandbox import SandboxHandle, Timing
from suno_hooks.stores import SQLiteStore, TaskState

from ..support.sandbox_rig import (
    API_KEY,
    CREATES,
    Rig,
    make_rig,
    rig_receiver,
    rig_timing,
    run_two_reconcilers,
)

__all__ = ["make_rig", "rig_timing"]

KINDS = {"lyrics": "lyrics", "wav": "wav", "stems": "stems", "midi": "midi", "video": "video",
         "cover_image": "cover_image", "ai-music-api/generate-lyrics": "lyrics"}  # fmt: skip


@pytest.fixture
def rig(make_rig: Any, tmp_path: Path) -> Rig:
    built: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    return built


def handle(rig: Rig) -> SandboxHandle:
    return SandboxHandle(rig.sandbox_url, api_key=API_KEY)


def submit_dropped(rig: Rig, feature: str, scenario: str = "drop") -> str:
    control = handle(rig)
    control.set_scenarios([scenario], next_only=True)
    with rig.client() as client:
        task_id = client.create(feature, context={"order": 7}, **CREATES[feature]).task_id
    control.wait(task_id)
    control.close()
    return task_id


@pytest.mark.parametrize("feature", sorted(CREATES))
def test_a_dropped_callback_is_recovered_by_polling_once(rig: Rig, feature: str):
    task_id = submit_dropped(rig, feature)
    assert rig.terminal(task_id) == []
    with rig.client() as client:
        reconciler = Reconciler(rig.receiver, client, after=0, every=1)
        report = reconciler.run_once()
        assert (report.claimed, report.polled, report.delivered) == (1, 1, 1)
        assert reconciler.run_once().claimed == 0
    (event,) = rig.terminal(task_id)
    assert (event.source, event.status, event.context) == ("poll", "completed", {"order": 7})
    assert event.kind == KINDS.get(feature, "music")
    typed = {
        "music": event.tracks,
        "lyrics": event.lyrics,
        "wav": event.wav_url,
        "stems": event.stems,
        "midi": event.midi,
        "video": event.video_url,
        "cover_image": event.images,
    }[event.kind]
    assert typed, f"no typed result for {feature}"
    task = rig.receiver.store.get_task(task_id)  # type: ignore[attr-defined]
    assert (task.state, task.settled_by) == (TaskState.SETTLED, "poll")
    assert rig.gate.polls[task_id] == 1


def test_a_delivered_callback_settles_the_task_and_nothing_is_polled(rig: Rig):
    control = handle(rig)
    with rig.client() as client:
        task_id = client.create("lyrics", **CREATES["lyrics"]).task_id
        control.wait(task_id)
        assert Reconciler(rig.receiver, client, after=0).run_once().claimed == 0
    control.close()
    assert len(rig.terminal(task_id)) == 1 and rig.gate.polls[task_id] == 0
    task = rig.receiver.store.get_task(task_id)  # type: ignore[attr-defined]
    assert (task.state, task.settled_by) == (TaskState.SETTLED, "callback")


def test_a_callback_racing_a_poll_dispatches_once(rig: Rig):
    holding, release = threading.Event(), threading.Event()

    def slow(sender: Any, event: Event, **extra: Any) -> None:
        if event.source == "callback":
            holding.set()
            assert release.wait(30)

    control = handle(rig)
    with task_completed.connected_to(slow), rig.client() as client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
        assert holding.wait(30)  # the callback is being processed right now
        reconciler = Reconciler(rig.receiver, client, after=0, every=1)
        report = reconciler.run_once()
        assert (report.polled, report.delivered, report.already_delivered) == (1, 0, 0)
        release.set()
        control.wait(task_id)
        later = Reconciler(rig.receiver, client, after=0, clock=lambda: time.time() + 5)
        assert later.run_once().claimed == 0
    control.close()
    (event,) = rig.terminal(task_id)
    assert event.source == "callback"
    assert rig.receiver.store.get_task(task_id).settled_by == "callback"  # type: ignore[attr-defined]


def test_a_poll_that_finds_the_result_already_delivered_dispatches_nothing(rig: Rig):
    control = handle(rig)
    with rig.client() as client:
        task_id = client.create("video", **CREATES["video"]).task_id
        control.wait(task_id)
        # The expected task is put back as if the callback's settle had been lost.
        store = rig.receiver.store
        with store._transaction() as conn:  # type: ignore[attr-defined]
            conn.execute(
                "UPDATE suno_hooks_tasks SET state = 'pending' WHERE task_id = ?", (task_id,)
            )
        report = Reconciler(rig.receiver, client, after=0).run_once()
    control.close()
    assert (report.polled, report.delivered, report.already_delivered) == (1, 0, 1)
    assert len(rig.terminal(task_id)) == 1


def test_rate_limits_and_server_errors_are_retried(rig: Rig):
    task_id = submit_dropped(rig, "generate")
    rig.gate.fail(task_id, 429, 503)
    with rig.client(retries=3) as client:
        report = Reconciler(rig.receiver, client, after=0).run_once()
    assert (report.polled, report.delivered, report.errors) == (1, 1, [])
    assert rig.gate.polls[task_id] == 3
    assert len(rig.terminal(task_id)) == 1


def test_persistent_errors_are_reported_and_the_task_stays_pending(rig: Rig):
    task_id = submit_dropped(rig, "generate")
    rig.gate.fail(task_id, 500, 502, 503, 500)
    with rig.client(retries=2) as client:
        report = Reconciler(rig.receiver, client, after=0, every=60).run_once()
    assert report.polled == 0 and len(report.errors) == 1
    assert task_id in report.errors[0] and "503" in report.errors[0]
    assert API_KEY not in report.errors[0]
    assert rig.gate.polls[task_id] == 3
    task = rig.receiver.store.get_task(task_id)  # type: ignore[attr-defined]
    assert task.state is TaskState.PENDING and task.next_poll_at > time.time() + 50
    assert rig.terminal(task_id) == []


@pytest.mark.parametrize("rig_timing", [Timing(first_delay=3600)])
def test_a_task_that_never_finishes_is_lost_exactly_once(rig: Rig):
    with rig.client() as client:
        task_id = client.create("replace_section", **CREATES["replace_section"]).task_id
        early = Reconciler(rig.receiver, client, after=0, every=1, give_up=100)
        report = early.run_once()
        assert (report.polled, report.lost) == (1, 0)
        late = [
            Reconciler(rig.receiver, client, after=0, give_up=100, clock=lambda: time.time() + 101)
            for _ in range(2)
        ]
        assert [r.run_once().lost for r in late] == [1, 0]
    (event,) = rig.terminal(task_id)
    assert (event.status, event.code, event.source) == ("failed", 408, "poll")
    assert "timed out" in event.code_info.meaning and event.feature == "replace_section"
    task = rig.receiver.store.get_task(task_id)  # type: ignore[attr-defined]
    assert (task.state, task.settled_by) == (TaskState.LOST, "timeout")


async def test_the_async_reconciler_recovers_a_dropped_callback(rig: Rig):
    task_id = submit_dropped(rig, "cover_image")
    async with AsyncSunoClient(API_KEY, base_url=rig.sandbox_url) as client:
        report = await Reconciler(rig.receiver, client, after=0).arun_once()
    assert report.delivered == 1
    (event,) = rig.terminal(task_id)
    assert event.source == "poll" and event.images


@pytest.mark.parametrize("kind", ["sqlite", "redis", "postgres"])
def test_two_reconcilers_in_two_processes_poll_each_task_once(
    make_rig: Any, kind: str, request: pytest.FixtureRequest
):
    store_url: str = request.getfixturevalue(f"{kind}_shared_url")
    rig = make_rig(rig_receiver(store_url))
    task_ids = [submit_dropped(rig, "lyrics") for _ in range(24)]
    results = run_two_reconcilers(store_url, rig.sandbox_url)
    assert sorted(rig.gate.polls) == sorted(task_ids)
    assert set(rig.gate.polls.values()) == {1}
    dispatched = [task_id for result in results for task_id in result["dispatched"]]
    assert sorted(dispatched) == sorted(task_ids)
    assert sum(result["delivered"] for result in results) == len(task_ids)
    assert all(rig.terminal(task_id) == [] for task_id in task_ids)  # none in this process
