"""The `queued` status on every store: `queue` as the request path's one write, a worker's
claim of the queued delivery, and the sweeper's `sweepable`/`note_ring`."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks.stores import (
    AsyncQueues,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    MemoryStore,
    Queues,
    RedisStore,
    ReplayCheck,
    SQLiteStore,
    Store,
)
from suno_hooks.stores.delivery_json import delivery_document
from suno_hooks.stores.postgres import PostgresStore

from ..support.stores import STORE_KINDS, delivery, finish


class QueueStore(Store, Queues, AsyncQueues):
    """A store with the hand-off operations (every built-in store)."""


def test_every_store_queues(store: Any):
    assert isinstance(store, Queues) and isinstance(store, AsyncQueues)


def test_queue_records_a_new_delivery_queued_without_lease_or_attempt(store: QueueStore):
    arriving = delivery(body=b'{"a":1}')
    queued = store.queue(arriving)
    assert (queued.result, queued.attempts, queued.token) == (ClaimResult.NEW, 0, "")
    assert (arriving.status, arriving.attempts, arriving.rings) == (DeliveryStatus.QUEUED, 0, 0)
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.QUEUED
    assert (kept.body, kept.attempts, kept.rings, kept.error) == (b'{"a":1}', 0, 0, None)
    assert [d.key for d in store.deliveries(status="queued")] == ["t1:complete"]
    assert store.deliveries(status=DeliveryStatus.PROCESSING) == []
    assert store.count_by_status() == {"queued": 1}
    assert delivery_document(kept)["rings"] == 0


def test_a_duplicate_arrival_of_a_queued_key_is_in_progress_and_changes_nothing(
    store: QueueStore,
):
    store.queue(delivery(body=b'{"first":1}'))
    before = store.get("t1:complete")
    again = store.queue(delivery(body=b'{"second":2}'))
    assert (again.result, again.token) == (ClaimResult.IN_PROGRESS, "")
    after = store.get("t1:complete")
    assert before is not None and after is not None
    assert (after.status, after.body, after.attempts) == (DeliveryStatus.QUEUED, b'{"first":1}', 0)
    assert after.updated_at == pytest.approx(before.updated_at)


def test_a_worker_claims_the_queued_delivery_and_finishes_it(store: QueueStore):
    store.queue(delivery(body=b'{"kept":true}'))
    kept = store.get("t1:complete")
    assert kept is not None
    claim = store.claim(kept, lease=60)
    assert (claim.result, claim.attempts) == (ClaimResult.NEW, 1) and claim.token
    running = store.get("t1:complete")
    assert running is not None and running.status is DeliveryStatus.PROCESSING
    assert (running.attempts, running.body) == (1, b'{"kept":true}')
    assert store.queue(delivery()).result is ClaimResult.IN_PROGRESS
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.finish("t1:complete", token=claim.token)
    assert store.queue(delivery()).result is ClaimResult.DUPLICATE
    assert store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE
    done = store.get("t1:complete")
    assert done is not None and (done.status, done.attempts) == (DeliveryStatus.DONE, 1)


def test_failed_and_abandoned_keys_are_queued_again_keeping_their_attempts(store: QueueStore):
    finish(store, delivery(), error="boom")
    again = store.queue(delivery())
    assert (again.result, again.attempts) == (ClaimResult.NEW, 1)
    kept = store.get("t1:complete")
    assert kept is not None and (kept.status, kept.error) == (DeliveryStatus.QUEUED, None)
    assert store.claim(kept, lease=60).attempts == 2
    abandoned = store.claim(delivery("t2"), lease=0.0)
    assert store.queue(delivery("t2")).result is ClaimResult.NEW
    # The owner of the ended lease can no longer finish the delivery the queue took over.
    assert not store.finish("t2:complete", token=abandoned.token)
    requeued = store.get("t2:complete")
    assert requeued is not None and requeued.status is DeliveryStatus.QUEUED
    store.claim(delivery("t3"), lease=60)
    assert store.queue(delivery("t3")).result is ClaimResult.IN_PROGRESS


def test_queue_runs_the_replay_guard_and_the_stale_check(store: QueueStore):
    guard = ReplayCheck("123:sig", b"body-a", ttl=600)
    assert store.queue(delivery(), replay=guard).result is ClaimResult.NEW
    forged = ReplayCheck("123:sig", b"body-b", ttl=600)
    assert store.queue(delivery("t1", "error"), replay=forged).result is ClaimResult.REPLAYED
    assert store.claim(delivery("t1", "error"), lease=60, replay=forged).result is (
        ClaimResult.REPLAYED
    )
    assert store.get("t1:error") is None
    # A queued terminal stage marks its task ended, as a claimed one does.
    assert store.queue(delivery(stage="first")).result is ClaimResult.STALE
    assert store.claim(delivery(stage="text"), lease=60).result is ClaimResult.STALE
    assert store.get("t1:first") is None
    # A duplicate's signature is recorded too, before the duplicate is answered.
    finish(store, delivery("t5"))
    replayed = ReplayCheck("124:sig", b"body-a", ttl=600)
    assert store.queue(delivery("t5"), replay=replayed).result is ClaimResult.DUPLICATE
    other = ReplayCheck("124:sig", b"body-c", ttl=600)
    assert store.queue(delivery("t5", "error"), replay=other).result is ClaimResult.REPLAYED


def test_sweepable_finds_queued_and_abandoned_deliveries_of_the_hand_off(store: QueueStore):
    now = time.time()
    store.queue(delivery("newer", received_at=now - 10))
    store.queue(delivery("older", received_at=now - 20))
    store.queue(delivery("worked", received_at=now - 30))
    kept = store.get("worked:complete")
    assert kept is not None
    assert store.claim(kept, lease=0.0).result is ClaimResult.NEW  # its worker died at once
    store.queue(delivery("running", received_at=now - 40))
    running = store.get("running:complete")
    assert running is not None and store.claim(running, lease=60).result is ClaimResult.NEW
    store.queue(delivery("finished", received_at=now - 50))
    finished = store.get("finished:complete")
    assert finished is not None
    store.finish("finished:complete", token=store.claim(finished, lease=60).token, error="x")
    store.claim(delivery("inline", received_at=now - 60), lease=0.0)
    found = store.sweepable(older_than=0, max_rings=3)
    assert [d.key for d in found] == ["worked:complete", "older:complete", "newer:complete"]
    assert [d.status for d in found] == [
        DeliveryStatus.ABANDONED,
        DeliveryStatus.QUEUED,
        DeliveryStatus.QUEUED,
    ]
    assert [d.key for d in store.sweepable(older_than=0, max_rings=3, limit=1)] == [
        "worked:complete"
    ]
    assert store.sweepable(older_than=3600, max_rings=3) == []
    assert store.sweepable(older_than=0, max_rings=0) == []


def test_note_ring_counts_rings_and_bounds_the_sweep(store: QueueStore):
    store.queue(delivery("a", received_at=time.time() - 5))
    store.queue(delivery("b"))
    assert [store.note_ring("a:complete") for _ in range(2)] == [1, 2]
    assert store.note_ring("unknown:complete") == 0
    kept = store.get("a:complete")
    assert kept is not None and kept.rings == 2
    assert delivery_document(kept)["rings"] == 2
    assert [d.key for d in store.sweepable(older_than=0, max_rings=3)] == [
        "a:complete",
        "b:complete",
    ]
    assert [d.key for d in store.sweepable(older_than=0, max_rings=2)] == ["b:complete"]
    # Queued again after a failure, a delivery starts counting its rings afresh.
    claim = store.claim(kept, lease=60)
    store.finish("a:complete", token=claim.token, error="boom")
    store.queue(delivery("a"))
    requeued = store.get("a:complete")
    assert requeued is not None and requeued.rings == 0


def test_a_ring_is_not_due_again_until_older_than_has_passed(store: QueueStore):
    store.queue(delivery("rung", received_at=time.time() - 2))
    store.queue(delivery("quiet"))
    time.sleep(1.2)
    assert store.note_ring("rung:complete") == 1
    assert [d.key for d in store.sweepable(older_than=0.6, max_rings=5)] == ["quiet:complete"]
    time.sleep(1.2)
    due = store.sweepable(older_than=0.6, max_rings=5)
    assert [(d.key, d.rings) for d in due] == [("rung:complete", 1), ("quiet:complete", 0)]


# Threads on Django's in-memory SQLite test database share one connection's tables and lock
# each other out; the Django store races on PostgreSQL here, on a SQLite file in processes in
# `test_django_concurrency`.
@pytest.mark.parametrize("make_store", [k for k in STORE_KINDS if k != "django"], indirect=True)
def test_two_workers_claiming_one_queued_key_get_one_new(
    store: QueueStore, request: pytest.FixtureRequest
):
    keys = [f"race{n}" for n in range(12)]
    for task_id in keys:
        store.queue(delivery(task_id))
    results: dict[str, list[ClaimResult]] = {f"{task_id}:complete": [] for task_id in keys}
    errors: list[BaseException] = []

    # The second worker of each pair works through a store object of its own.
    redis_url = ""
    if isinstance(store, RedisStore):
        kind = request.node.callspec.params["make_store"]
        servers = request.getfixturevalue(
            "redis_cluster" if kind == "redis_cluster" else "redis_server"
        )
        redis_url = servers.url
    stores = [store, _twin(store, redis_url)]

    def work(worker: int, task_id: str, barrier: threading.Barrier) -> None:
        try:
            kept = stores[worker].get(f"{task_id}:complete")
            assert kept is not None
            barrier.wait(timeout=10)
            results[kept.key].append(stores[worker].claim(kept, lease=60).result)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            _close_thread_connections()

    for task_id in keys:
        barrier = threading.Barrier(2)
        workers = [threading.Thread(target=work, args=(n, task_id, barrier)) for n in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
    if stores[1] is not store:
        stores[1].close()
    assert errors == []
    for key, answers in results.items():
        assert sorted(answers) == [ClaimResult.IN_PROGRESS, ClaimResult.NEW], key
        kept = store.get(key)
        assert kept is not None and kept.attempts == 1


async def test_async_queue_sweep_and_ring(store: Any):
    queued = await store.aqueue(delivery())
    assert queued.result is ClaimResult.NEW
    assert (await store.aqueue(delivery())).result is ClaimResult.IN_PROGRESS
    assert [d.key for d in await store.asweepable(older_than=0, max_rings=1)] == ["t1:complete"]
    assert await store.anote_ring("t1:complete") == 1
    assert await store.asweepable(older_than=0, max_rings=1) == []
    kept = await store.aget("t1:complete")
    assert (await store.aclaim(kept, lease=60)).attempts == 1


def _twin(store: Any, url: str = "") -> Any:
    """Another store object on the same data (its own connections), where one can be built."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    if isinstance(store, RedisStore):
        return RedisStore(url, prefix=store.prefix)
    if isinstance(store, PostgresStore):
        return PostgresStore(store.url)
    return store


def _close_thread_connections() -> None:
    """A Django store opens a connection per thread: close this thread's."""
    try:
        from django.db import connections
    except ImportError:  # pragma: no cover - Django is a dev dependency
        return
    connections.close_all()


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["queue", "claim", "claim_ended", "finish", "fail"]),
        st.sampled_from(["complete", "text"]),
    ),
    min_size=1,
    max_size=8,
)
_EXAMPLES = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=_STEPS)
def test_queue_and_claim_answer_as_the_memory_store_does(
    store: QueueStore, steps: list[tuple[str, str]]
):
    # Each example works on a task of its own; the memory store is the model.
    task_id = f"h{next(_EXAMPLES)}"
    model = MemoryStore()
    tokens: dict[int, dict[str, str]] = {0: {}, 1: {}}
    for step, stage in steps:
        answers = []
        for n, target in enumerate((model, store)):
            answers.append(_apply(target, step, delivery(task_id, stage), tokens[n]))
        assert answers[0] == answers[1], (step, stage)
    for stage in ("complete", "text"):
        expected, kept = model.get(f"{task_id}:{stage}"), store.get(f"{task_id}:{stage}")
        assert (expected is None) == (kept is None)
        if expected is not None and kept is not None:
            assert (kept.status, kept.attempts) == (expected.status, expected.attempts)


def _apply(store: Any, step: str, arriving: Delivery, tokens: dict[str, str]) -> Any:
    """One step of the scenario: its answer, comparable between stores."""
    if step == "queue":
        return store.queue(arriving).result
    if step in ("claim", "claim_ended"):
        claim = store.claim(arriving, lease=60 if step == "claim" else 0.0)
        if claim.result is ClaimResult.NEW:
            tokens[arriving.key] = claim.token
        return claim.result, claim.attempts
    token = tokens.pop(arriving.key, "")
    return bool(token) and store.finish(
        arriving.key, token=token, error="boom" if step == "fail" else None
    )
