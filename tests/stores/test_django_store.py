"""The ORM store keeps the memory store's semantics: the same scenarios run against both."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks.contrib.django.models import Delivery as DeliveryRow
from suno_hooks.contrib.django.models import SeenSignature, TerminalTask
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.stores import ClaimResult, Delivery, DeliveryStatus, MemoryStore, ReplayCheck

from ..support.stores import finish

Store = Any


@pytest.fixture(
    params=["memory", pytest.param("django", marks=pytest.mark.django_db(transaction=True))]
)
def store(request: pytest.FixtureRequest) -> Store:
    """A memory store, then a Django store on a transactional test database (the mark is set at
    collection, so pytest-django creates the test database even when this file runs alone)."""
    return DjangoStore() if request.param == "django" else MemoryStore()


def delivery(task_id: str = "t1", stage: str = "complete", body: bytes = b"{}") -> Delivery:
    return Delivery(
        key=f"{task_id}:{stage}",
        task_id=task_id,
        stage=stage,
        body=body,
        kind="music",
        context={"user": 1},
        headers={"x-webhook-timestamp": "1"},
        peer="10.0.0.1",
    )


def test_claim_lifecycle(store: Store):
    first = store.claim(delivery(), lease=60)
    assert first.result is ClaimResult.NEW
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS
    store.finish("t1:complete", token=first.token, error="boom")
    failed = store.get("t1:complete")
    assert failed.status is DeliveryStatus.FAILED and failed.error == "boom"
    retry = store.claim(delivery(), lease=60)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2)
    store.finish("t1:complete", token=retry.token)
    assert store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE
    kept = store.get("t1:complete")
    assert kept.status is DeliveryStatus.DONE and kept.attempts == 2 and kept.error is None
    assert (kept.kind, kept.context, kept.peer, kept.body) == (
        "music",
        {"user": 1},
        "10.0.0.1",
        b"{}",
    )
    assert kept.headers == {"x-webhook-timestamp": "1"}


def test_expired_lease_is_taken_over(store: Store):
    assert store.claim(delivery(), lease=0.01).result is ClaimResult.NEW
    time.sleep(0.02)
    taken = store.claim(delivery(), lease=60)
    assert (taken.result, taken.attempts) == (ClaimResult.NEW, 2)


def test_progress_after_terminal_is_stale(store: Store):
    finish(store, delivery(stage="text"), error="x")
    store.claim(delivery(stage="complete"), lease=60)
    assert store.claim(delivery(stage="first"), lease=60).result is ClaimResult.STALE
    assert store.claim(delivery(stage="text"), lease=60).result is ClaimResult.STALE
    assert store.get("t1:first") is None
    assert store.claim(delivery("t2", stage="first"), lease=60).result is ClaimResult.NEW


def test_replay_guard(store: Store):
    guard = ReplayCheck("123:sig", b"body-a", ttl=600)
    claim = store.claim(delivery(), lease=60, replay=guard)
    assert claim.result is ClaimResult.NEW
    store.finish("t1:complete", token=claim.token)
    same_body = ReplayCheck("123:sig", b"body-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=same_body).result is ClaimResult.DUPLICATE
    other_body = ReplayCheck("123:sig", b"body-b", ttl=600)
    replayed = store.claim(delivery("t1", "error"), lease=60, replay=other_body)
    assert replayed.result is ClaimResult.REPLAYED
    assert store.get("t1:error") is None


def test_expired_signature_is_forgotten(store: Store):
    short = ReplayCheck("9:sig", b"body-a", ttl=0.01)
    store.claim(delivery(), lease=60, replay=short)
    time.sleep(0.02)
    later = ReplayCheck("9:sig", b"body-b", ttl=600)
    assert store.claim(delivery("t2"), lease=60, replay=later).result is ClaimResult.NEW


def test_deliveries_filter_newest_first_and_purge(store: Store):
    for i, (task_id, stage) in enumerate([("a", "complete"), ("b", "error"), ("c", "complete")]):
        item = delivery(task_id, stage)
        item.received_at = 1_000_000 + i
        item.kind = "lyrics" if task_id == "b" else "music"
        finish(store, item, error="no" if task_id == "c" else None)
    assert [d.task_id for d in store.deliveries()] == ["c", "b", "a"]
    assert [d.task_id for d in store.deliveries(limit=1)] == ["c"]
    assert [d.task_id for d in store.deliveries(status="failed")] == ["c"]
    assert [d.task_id for d in store.deliveries(kind="lyrics")] == ["b"]
    assert [d.task_id for d in store.deliveries(task_id="a")] == ["a"]
    assert store.purge(older_than=1_000_001.5) == 2
    assert [d.task_id for d in store.deliveries()] == ["c"]


def test_deliveries_filter_by_stage_and_source_with_offset_and_counts(store: Store):
    for i, (task_id, stage) in enumerate([("a", "first"), ("a", "complete"), ("b", "complete")]):
        item = delivery(task_id, stage)
        item.received_at = 1_000_000 + i
        if task_id == "a":
            finish(store, item, error="no" if stage == "complete" else None)
        else:
            store.claim(item, lease=60)
    assert [d.key for d in store.deliveries(stage="complete")] == ["b:complete", "a:complete"]
    assert [d.key for d in store.deliveries(offset=1, limit=1)] == ["a:complete"]
    assert [d.key for d in store.deliveries(source="callback", offset=2)] == ["a:first"]
    assert store.deliveries(source="poll") == []
    assert store.count_by_status() == {"done": 1, "failed": 1, "processing": 1}
    polled = delivery("c", "complete")
    polled.source = "poll"
    store.claim(polled, lease=60)
    assert [d.key for d in store.deliveries(source="poll")] == ["c:complete"]


async def test_async_twins(store: Store):
    claim = await store.aclaim(delivery(), lease=60)
    assert claim.result is ClaimResult.NEW
    await store.afinish("t1:complete", token=claim.token)
    assert (await store.aget("t1:complete")).status is DeliveryStatus.DONE
    assert [d.key for d in await store.adeliveries(status="done")] == ["t1:complete"]
    await store.aclose()


@pytest.mark.django_db(transaction=True)
def test_orm_rows_and_purge_of_guard_and_terminal_tasks():
    store = DjangoStore()
    claim = store.claim(delivery(), lease=60, replay=ReplayCheck("1:s", b"body", ttl=0.01))
    assert TerminalTask.objects.filter(task_id="t1").exists()
    row = DeliveryRow.objects.get()
    assert row.status == "processing" and row.lease_until is not None
    store.finish(row.key, token=claim.token)
    row.refresh_from_db()
    assert row.status == "done" and row.lease_until is None
    time.sleep(0.02)
    assert store.purge(older_than=time.time() + 1) == 1
    assert not SeenSignature.objects.exists() and not TerminalTask.objects.exists()


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    task_id=st.text(min_size=1, max_size=128).filter(str.isprintable),
    stage=st.text(max_size=64),
)
def test_any_task_id_and_stage_round_trip(task_id: str, stage: str):
    store = DjangoStore()
    item = delivery(task_id, stage)
    first = store.claim(item, lease=60)
    if first.result is ClaimResult.NEW:
        store.finish(item.key, token=first.token)
    again = store.claim(item, lease=60)
    assert again.result in (ClaimResult.DUPLICATE, ClaimResult.STALE)
    DeliveryRow.objects.all().delete()
    TerminalTask.objects.all().delete()
