"""The `FinishesSettling` contract: a terminal delivery finished and its expected task settled in
one write, on every store kind that offers it (sync and asyncio flavours), with the same
outcome as `settle` followed by `finish`, and nothing changed for a stale token."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from suno_hooks.stores import ClaimResult, DeliveryStatus
from suno_hooks.stores.tasks import (
    AsyncFinishesSettling,
    ExpectedTask,
    FinishesSettling,
    TaskState,
)

from ..support.stores import STORE_KINDS, StoreFactory, delivery, offers

FLAVOURS = {"sync": FinishesSettling, "async": AsyncFinishesSettling}
# A lease of 0 s has ended by the next claim: a takeover without waiting on a timer.
ENDED = 0.0
# Only the kinds whose stores offer it (the others are not skipped: they are not listed).
CASES = [
    (kind, flavour)
    for kind in STORE_KINDS
    for flavour, protocol in FLAVOURS.items()
    if offers(kind, protocol)
]
# `kind` names the store kind as the suite's conftest reads it (Django kinds get a database).
over_cases = pytest.mark.parametrize(("kind", "flavour"), CASES)


def test_the_redis_kinds_offer_both_flavours():
    redis_cases = {("redis", "sync"), ("redis", "async")}
    assert redis_cases | {("redis_cluster", "sync"), ("redis_cluster", "async")} <= set(CASES)


@pytest.fixture
def store(kind: str, request: pytest.FixtureRequest) -> Any:
    """A fresh store of the case's kind."""
    factory: StoreFactory = request.getfixturevalue(f"{kind}_store_factory")
    return factory()


@pytest.fixture
def finish_settling(flavour: str, store: Any) -> Any:
    """`store.finish_settling` or, in the asyncio flavour, `store.afinish_settling` on a loop."""
    if flavour == "sync":
        return store.finish_settling

    def run(key: str, **arguments: Any) -> bool:
        return bool(asyncio.run(store.afinish_settling(key, **arguments)))

    return run


def expect(store: Any, task_id: str) -> None:
    """Expect a task that is due for a poll now."""
    now = time.time()
    task = ExpectedTask(task_id=task_id, feature="music", submitted_at=now - 5, next_poll_at=now)
    assert store.expect(task)


@over_cases
def test_a_pending_task_is_settled_and_leaves_the_due_queue(store: Any, finish_settling: Any):
    expect(store, "t1")
    claim = store.claim(delivery("t1"), lease=60)
    assert finish_settling(
        "t1:complete", token=claim.token, error=None, task_id="t1", by="callback"
    )
    kept = store.get("t1:complete")
    assert kept is not None and (kept.status, kept.error) == (DeliveryStatus.DONE, None)
    task = store.get_task("t1")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "callback")
    assert store.claim_due(now=time.time() + 3600) == []
    assert store.claim(delivery("t1"), lease=60).result is ClaimResult.DUPLICATE
    assert not store.settle("t1")  # settled once, as `settle` would have


@over_cases
def test_a_failed_delivery_settles_its_task_too(store: Any, finish_settling: Any):
    expect(store, "t1")
    claim = store.claim(delivery("t1"), lease=60)
    assert finish_settling("t1:complete", token=claim.token, error="boom", task_id="t1", by="poll")
    kept = store.get("t1:complete")
    assert kept is not None and (kept.status, kept.error) == (DeliveryStatus.FAILED, "boom")
    task = store.get_task("t1")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "poll")
    assert store.claim_due(now=time.time() + 3600) == []


@over_cases
def test_a_lost_task_stays_lost(store: Any, finish_settling: Any):
    expect(store, "t1")
    assert store.mark_lost("t1")
    claim = store.claim(delivery("t1"), lease=60)
    assert finish_settling(
        "t1:complete", token=claim.token, error=None, task_id="t1", by="callback"
    )
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    task = store.get_task("t1")
    assert task is not None and (task.state, task.settled_by) == (TaskState.LOST, "timeout")


@over_cases
def test_without_an_expected_task_the_delivery_is_still_finished(store: Any, finish_settling: Any):
    claim = store.claim(delivery("t1"), lease=60)
    assert finish_settling(
        "t1:complete", token=claim.token, error=None, task_id="t1", by="callback"
    )
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert store.get_task("t1") is None


@over_cases
def test_a_stale_token_finishes_and_settles_nothing(store: Any, finish_settling: Any):
    expect(store, "t1")
    first = store.claim(delivery("t1"), lease=ENDED)
    second = store.claim(delivery("t1"), lease=60)
    assert (second.result, second.attempts) == (ClaimResult.NEW, 2)
    assert not finish_settling(
        "t1:complete", token=first.token, error="late", task_id="t1", by="callback"
    )
    kept = store.get("t1:complete")
    assert kept is not None and (kept.status, kept.error) == (DeliveryStatus.PROCESSING, None)
    task = store.get_task("t1")
    assert task is not None and (task.state, task.settled_by) == (TaskState.PENDING, None)
    assert [due.task_id for due in store.claim_due(now=time.time() + 1)] == ["t1"]
    # The owner that took over still finishes and settles.
    assert finish_settling("t1:complete", token=second.token, error=None, task_id="t1", by="poll")
    task = store.get_task("t1")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "poll")
    assert not finish_settling(
        "never:complete", token=second.token, error=None, task_id="never", by="callback"
    )
