"""MemoryStore: claim semantics, lease expiry, replay guard, bounds, purge."""

from __future__ import annotations

import sys
import time

from suno_hooks.stores import (
    ClaimResult,
    Delivery,
    DeliveryStatus,
    MemoryStore,
    ReplayCheck,
    store_from_url,
)


def delivery(task_id: str = "t1", stage: str = "complete", body: bytes = b"{}") -> Delivery:
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=body)


def test_claim_lifecycle():
    store = MemoryStore()
    assert store.claim(delivery(), lease=60).result is ClaimResult.NEW
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS
    store.finish("t1:complete", error="boom")
    retry = store.claim(delivery(), lease=60)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2)
    store.finish("t1:complete")
    assert store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE and kept.attempts == 2


def test_expired_lease_is_taken_over():
    store = MemoryStore()
    assert store.claim(delivery(), lease=0.01).result is ClaimResult.NEW
    time.sleep(0.02)
    assert store.claim(delivery(), lease=60).result is ClaimResult.NEW


def test_progress_after_terminal_is_stale():
    store = MemoryStore()
    store.claim(delivery(stage="complete"), lease=60)
    assert store.claim(delivery(stage="first"), lease=60).result is ClaimResult.STALE
    assert store.claim(delivery("t2", stage="first"), lease=60).result is ClaimResult.NEW


def test_replay_guard():
    store = MemoryStore()
    guard = ReplayCheck("123:sig", "digest-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=guard).result is ClaimResult.NEW
    store.finish("t1:complete")
    same_body = ReplayCheck("123:sig", "digest-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=same_body).result is ClaimResult.DUPLICATE
    other_body = ReplayCheck("123:sig", "digest-b", ttl=600)
    assert (
        store.claim(delivery("t1", "error"), lease=60, replay=other_body).result
        is ClaimResult.REPLAYED
    )


def test_bounded_keeps_newest_and_unfinished():
    store = MemoryStore(max_keys=100, max_deliveries=50)
    store.claim(delivery("pending"), lease=600)
    for i in range(300):
        store.claim(delivery(f"t{i}"), lease=60)
        store.finish(f"t{i}:complete")
    assert len(store._keys) <= 100
    assert len(store._inbox) <= 50
    assert store.claim(delivery("pending"), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.claim(delivery("t299"), lease=60).result is ClaimResult.DUPLICATE


def test_remembered_key_is_small():
    store = MemoryStore()
    before = sys.getsizeof(store._keys)
    keys = [f"{i:032x}:complete" for i in range(10_000)]
    for key in keys:
        store._keys[key] = 0
    per_key = (sys.getsizeof(store._keys) - before + sum(sys.getsizeof(k) for k in keys)) / len(
        keys
    )
    assert per_key < 300


def test_listing_filters_and_purge():
    store = MemoryStore()
    old = delivery("old")
    old.received_at = time.time() - 30 * 86400
    store.claim(old, lease=60)
    store.claim(delivery("new"), lease=60)
    store.finish("new:complete", error="x")
    assert [d.task_id for d in store.deliveries(status="failed")] == ["new"]
    assert [d.task_id for d in store.deliveries(task_id="old")] == ["old"]
    assert store.purge() == 1
    assert [d.task_id for d in store.deliveries()] == ["new"]


def test_store_from_url():
    store = store_from_url("memory://?max_keys=10")
    assert isinstance(store, MemoryStore) and store.max_keys == 10
