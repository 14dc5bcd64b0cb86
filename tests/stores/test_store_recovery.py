"""Stores recover and stay bounded: abandoned deliveries are listed and replayed, a connection
that failed is replaced, thread churn keeps the descriptor count bounded, and the memory store's
every structure keeps its bound."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.signals import request_finished

from suno_hooks import Event, task_completed
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import (
    ClaimResult,
    DeliveryStatus,
    MemoryStore,
    ReplayCheck,
    SQLiteStore,
    Store,
)
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.stores import delivery, finish


def test_an_ended_lease_is_listed_as_abandoned_and_replayed(store: Store):
    receiver = unverified_receiver(store=store, lease=0.0)
    runs: list[str] = []
    # A worker that dies mid-handler leaves its delivery `processing`: claim without finishing.
    assert store.claim(delivery("lost", body=encode(make_callback(task_id="lost"))), lease=0.0)
    finish(store, delivery("kept"))
    kept = store.get("lost:complete")
    assert kept is not None and kept.status is DeliveryStatus.ABANDONED
    assert [d.key for d in store.deliveries(status="abandoned")] == ["lost:complete"]
    assert store.deliveries(status="processing") == []
    live = store.claim(delivery("running"), lease=60)
    assert [d.key for d in store.deliveries(status="processing")] == ["running:complete"]

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        runs.append(event.task_id)

    with task_completed.connected_to(handler):
        outcomes = receiver.replay_failed()
    assert sorted(outcomes) == ["lost:complete"]
    assert outcomes["lost:complete"].body == {"status": "received"}
    assert runs == ["lost"]
    replayed = store.get("lost:complete")
    assert replayed is not None and replayed.status is DeliveryStatus.DONE
    assert replayed.attempts == 2
    assert store.finish("running:complete", token=live.token)


def test_a_replay_reaching_no_receiver_leaves_the_delivery_failed(store: Store):
    receiver = unverified_receiver(store=store)
    body = encode(make_callback(task_id="lonely"))

    def broken(sender: Any, event: Event, **extra: Any) -> None:
        raise RuntimeError("down")

    with task_completed.connected_to(broken):
        assert receiver.handle(InboundRequest("POST", body)).status == 200
    outcome = receiver.replay("lonely:complete")
    assert (outcome.status, outcome.body["error"]) == (503, "no_receiver")
    kept = store.get("lonely:complete")
    assert kept is not None and kept.status is DeliveryStatus.FAILED and kept.attempts == 1


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_thread_churn_keeps_descriptors_bounded(store: Store):
    """A thread per request (`flask run`, `runserver`): connections must not pile up."""
    finish(store, delivery("warm"))
    before = _descriptors()
    errors: list[BaseException] = []

    def request(i: int) -> None:
        try:
            finish(store, delivery(f"churn{i}"))
            assert store.get(f"churn{i}:complete") is not None
        except BaseException as exc:
            errors.append(exc)
        finally:
            request_finished.send(sender=None)  # what Django does after each request

    for i in range(150):
        thread = threading.Thread(target=request, args=(i,))
        thread.start()
        thread.join()
    assert errors == []
    assert _descriptors() - before <= 20


def test_sqlite_replaces_a_connection_that_could_not_write(tmp_path: Path):
    """A connection opened during a read-only spell stays read-only; the pool must drop it."""
    store = SQLiteStore(tmp_path / "spell.db")
    finish(store, delivery("before"))
    with store.pool.connection() as conn:
        conn.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.claim(delivery("during"), lease=60)
    assert store.pool.idle() == 0
    assert store.claim(delivery("during"), lease=60).result is ClaimResult.NEW
    assert store.claim(delivery("after"), lease=60).result is ClaimResult.NEW
    store.close()


def test_sqlite_keeps_a_small_pool(tmp_path: Path):
    store = SQLiteStore(tmp_path / "pool.db", pool_size=2)
    barrier = threading.Barrier(6)

    def work(i: int) -> None:
        with store.pool.connection():
            barrier.wait()
        finish(store, delivery(f"p{i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.pool.idle() <= 2
    store.close()


def test_memory_store_bounds_every_structure():
    store = MemoryStore(max_keys=50, max_deliveries=20, max_signatures=30)
    store.claim(delivery("pending"), lease=600)
    for i in range(500):
        guard = ReplayCheck(f"{i}:sig", b"body", ttl=600)
        claim = store.claim(delivery(f"t{i}"), lease=60, replay=guard)
        if i % 2 == 0:
            store.finish(f"t{i}:complete", token=claim.token, error="boom")
        elif i % 25 != 1:
            store.finish(f"t{i}:complete", token=claim.token)
        assert store.bounded
    sizes = store.sizes()
    assert sizes["keys"] <= 50 and sizes["terminal"] <= 50
    assert sizes["signatures"] <= 30 and sizes["deliveries"] <= 20
    assert sizes["failed"] > 0 and sizes["leases"] > 0
    # The oldest keys went first, failed and leased alike; a live lease is stepped over.
    assert store.claim(delivery("t0"), lease=60).result is ClaimResult.NEW
    assert store.claim(delivery("pending"), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.evicted_live == 0
    crowded = MemoryStore(max_keys=10)
    for i in range(30):
        crowded.claim(delivery(f"live{i}"), lease=600)
    assert crowded.bounded and crowded.evicted_live == 20
