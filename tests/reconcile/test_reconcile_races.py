"""The reconciler's races, against the sandbox over real HTTP: a poll at `give_up` while the
real callback is being handled, and two reconcilers in two processes polling the same tasks."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from suno_hooks import ConfigurationError, Event, task_completed
from suno_hooks.client import AsyncSunoClient, SunoClient
from suno_hooks.reconcile import Reconciler
from suno_hooks.sandbox import SandboxHandle, Timing
from suno_hooks.stores import ExpectedTask, SQLiteStore, TaskState

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

GIVE_UP = 900.0
EVERY = 2.0


@pytest.fixture
def rig(make_rig: Any, tmp_path: Path) -> Rig:
    built: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    return built


def past_give_up() -> float:
    """A clock for a reconciler that runs after every task's `give_up`."""
    return time.time() + GIVE_UP + 100


def holding_the_callback() -> tuple[threading.Event, threading.Event, Any]:
    """A `task_completed` handler that holds the real callback until released."""
    holding, release = threading.Event(), threading.Event()

    def slow(sender: Any, event: Event, **extra: Any) -> None:
        if event.source == "callback":
            holding.set()
            assert release.wait(30)

    return holding, release, slow


@pytest.mark.parametrize("poll", ["finds the result", "fails"])
def test_a_poll_at_give_up_while_the_callback_is_handled_never_reports_the_task_lost(
    rig: Rig, poll: str
):
    holding, release, slow = holding_the_callback()
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    store: Any = rig.receiver.store
    with task_completed.connected_to(slow), rig.client(retries=0) as client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
        assert holding.wait(30)  # the real callback's handler is running right now
        if poll == "fails":
            rig.gate.fail(task_id, 500)
        late = Reconciler(rig.receiver, client, after=0, give_up=GIVE_UP, clock=past_give_up)
        report = late.run_once()
        assert (report.claimed, report.delivered, report.lost) == (1, 0, 0)
        task = store.get_task(task_id)
        assert task.state is TaskState.PENDING and task.next_poll_at > time.time()
        release.set()
        control.wait(task_id)
        again = Reconciler(rig.receiver, client, after=0, give_up=GIVE_UP, clock=past_give_up)
        assert again.run_once().lost == 0
    control.close()
    (event,) = rig.terminal(task_id)
    assert (event.status, event.source) == ("completed", "callback")
    task = store.get_task(task_id)
    assert (task.state, task.settled_by) == (TaskState.SETTLED, "callback")


@pytest.mark.parametrize("rig_timing", [Timing(first_delay=3600)])
@pytest.mark.parametrize("kind", ["sqlite", "redis", "postgres"])
def test_two_reconcilers_in_two_processes_never_poll_a_task_twice_within_every(
    make_rig: Any, kind: str, request: pytest.FixtureRequest
):
    store_url: str = request.getfixturevalue(f"{kind}_shared_url")
    rig = make_rig(rig_receiver(store_url))
    store: Any = rig.receiver.store
    with SunoClient(API_KEY, base_url=rig.sandbox_url) as client:
        # The tasks never finish, so each is polled again and again; all are due at once.
        lyrics = dict(CREATES["lyrics"], callBackUrl=rig.callback_url)
        task_ids = [client.create("lyrics", **lyrics).task_id for _ in range(12)]
    for task_id in task_ids:
        assert store.expect(ExpectedTask.submitted(task_id, "lyrics", after=0))
    # 12 tasks at 3 polls/s: a pass lasts twice `every`, and as long as a lease.
    options = ["--for", "8", "--every", str(EVERY), "--rate", "3", "--lease", "4", "--batch", "12"]
    results = run_two_reconcilers(store_url, rig.sandbox_url, *options)
    assert all(result["polled"] > 0 for result in results), results
    assert sorted(rig.gate.times) == sorted(task_ids)
    assert all(len(rig.gate.times[task_id]) >= 2 for task_id in task_ids)
    too_soon = {
        task_id: [round(later - earlier, 3) for earlier, later in itertools.pairwise(times)]
        for task_id, times in rig.gate.times.items()
    }
    assert {k: gaps for k, gaps in too_soon.items() if min(gaps) < EVERY} == {}


def test_a_poll_that_could_outlast_its_lease_stops_and_waits_every(rig: Rig):
    store: Any = rig.receiver.store
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    control.set_scenarios(["drop"], next_only=True)
    with rig.client(timeout=1, backoff=20) as client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
        control.wait(task_id)
        rig.gate.fail(task_id, 503)  # the retry would wait 20 s, past the 5 s lease
        started = time.monotonic()
        report = Reconciler(rig.receiver, client, after=0, every=EVERY, lease=5).run_once()
    control.close()
    assert time.monotonic() - started < 5
    assert report.polled == 0 and "lease" in report.errors[0]
    assert rig.gate.polls[task_id] == 1
    task = store.get_task(task_id)
    assert task.state is TaskState.PENDING
    assert time.time() < task.next_poll_at <= time.time() + EVERY


def test_a_lease_shorter_than_one_request_is_refused(rig: Rig):
    with rig.client(timeout=10) as client, pytest.raises(ConfigurationError, match="lease"):
        Reconciler(rig.receiver, client, lease=10)


async def test_the_async_reconciler_never_reports_lost_a_task_whose_callback_is_handled(rig: Rig):
    holding, release, slow = holding_the_callback()
    store: Any = rig.receiver.store
    with task_completed.connected_to(slow), rig.client() as client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
        assert await asyncio.to_thread(holding.wait, 30)
        rig.gate.fail(task_id, 500)
        async with AsyncSunoClient(API_KEY, base_url=rig.sandbox_url, retries=0) as poller:
            late = Reconciler(rig.receiver, poller, after=0, give_up=GIVE_UP, clock=past_give_up)
            report = await late.arun_once()
        assert (report.claimed, report.lost) == (1, 0)
        assert store.get_task(task_id).state is TaskState.PENDING
        release.set()
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    await asyncio.to_thread(control.wait, task_id)
    control.close()
    (event,) = rig.terminal(task_id)
    assert (event.status, event.source) == ("completed", "callback")
