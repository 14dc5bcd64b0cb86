"""The store contract: the same assertions for every store in `STORE_KINDS`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest

from suno_hooks import task_completed
from suno_hooks.media import KeptFile
from suno_hooks.stores import (
    ClaimResult,
    Delivery,
    DeliveryStatus,
    RecordsKept,
    Reopens,
    ReplayCheck,
    Store,
)
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.stores import STORE_KINDS, StoreFactory, delivery, finish


def test_claim_lifecycle(store: Store):
    first = store.claim(delivery(), lease=60)
    assert first.result is ClaimResult.NEW and first.token
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.finish("t1:complete", token=first.token, error="boom")
    failed = store.get("t1:complete")
    assert failed is not None and failed.status is DeliveryStatus.FAILED
    assert (failed.error, failed.attempts) == ("boom", 1)
    retry = store.claim(delivery(), lease=60)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2)
    reclaimed = store.get("t1:complete")
    assert reclaimed is not None and reclaimed.status is DeliveryStatus.PROCESSING
    assert retry.token not in ("", first.token)
    assert store.finish("t1:complete", token=retry.token)
    assert store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert (kept.attempts, kept.error) == (2, None)


def test_delivery_fields_are_kept(store: Store):
    original = Delivery(
        key="t9:first",
        task_id="t9",
        stage="first",
        body='{"msg":"ünïcode ✓"}'.encode(),
        kind="music",
        feature="extend",
        context={"user": 42, "tags": ["a"]},
        headers={"x-webhook-signature": "abc", "x-webhook-timestamp": "1700000000"},
        peer="203.0.113.7",
        received_at=1_700_000_000.25,
    )
    assert store.claim(original, lease=60).result is ClaimResult.NEW
    kept = store.get("t9:first")
    assert kept is not None
    assert kept.body == original.body
    assert (kept.task_id, kept.stage, kept.kind, kept.feature) == ("t9", "first", "music", "extend")
    assert kept.context == {"user": 42, "tags": ["a"]}
    assert kept.headers == original.headers
    assert kept.peer == "203.0.113.7"
    assert kept.received_at == pytest.approx(1_700_000_000.25)
    assert kept.updated_at >= time.time() - 60
    assert store.get("nope:complete") is None


def test_context_and_headers_beyond_ascii_are_kept(store: Store):
    context = {"name": "Zoë ✓", "big": 1e16, "nested": {"ok": [True, None]}}
    headers = {"x-webhook-timestamp": "1700000000", "x-note": "café"}
    original = Delivery(
        "t8:complete", "t8", "complete", b"{}", "music", context=context, headers=headers
    )
    assert store.claim(original, lease=60).result is ClaimResult.NEW
    kept = store.get("t8:complete")
    assert kept is not None
    assert (kept.context, kept.headers) == (context, headers)


def test_a_context_with_text_postgresql_cannot_hold_is_kept(store: Store):
    context = {"nul": "a\x00b", "lone": "c\ud800d", "k\x00": ["e\x00"]}
    original = Delivery("t6:complete", "t6", "complete", b"{}", "music", context=context)
    assert store.claim(original, lease=60).result is ClaimResult.NEW
    kept = store.get("t6:complete")
    assert kept is not None
    # The Django store writes these as the PostgreSQL store writes its text; others keep them.
    assert kept.context in (context, {"nul": "a\ufffdb", "lone": "c?d", "k\ufffd": ["e\ufffd"]})


def test_expired_lease_is_taken_over(store: Store):
    # A lease of 0 s has ended by the next claim: no timer to race on a loaded machine.
    assert store.claim(delivery(), lease=0.0).result is ClaimResult.NEW
    takeover = store.claim(delivery(), lease=60)
    assert (takeover.result, takeover.attempts) == (ClaimResult.NEW, 2)
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS


def test_progress_after_terminal_is_stale(store: Store):
    assert store.claim(delivery(stage="text"), lease=60).result is ClaimResult.NEW
    assert store.claim(delivery(stage="complete"), lease=60).result is ClaimResult.NEW
    assert store.claim(delivery(stage="first"), lease=60).result is ClaimResult.STALE
    assert store.get("t1:first") is None
    assert store.claim(delivery("t2", stage="first"), lease=60).result is ClaimResult.NEW
    # The terminal mark is set at claim time, even while the terminal delivery is processing;
    # a task id that merely starts like another is a different task.
    assert store.claim(delivery("t1x", stage="first"), lease=60).result is ClaimResult.NEW
    assert store.claim(delivery(stage="error"), lease=60).result is ClaimResult.NEW


def test_duplicate_and_in_progress_win_over_stale(store: Store):
    finish(store, delivery(stage="first"))
    store.claim(delivery(stage="text"), lease=60)
    store.claim(delivery(stage="complete"), lease=60)
    assert store.claim(delivery(stage="first"), lease=60).result is ClaimResult.DUPLICATE
    assert store.claim(delivery(stage="text"), lease=60).result is ClaimResult.IN_PROGRESS


def test_failed_progress_after_terminal_is_stale(store: Store):
    finish(store, delivery(stage="first"), error="boom")
    store.claim(delivery(stage="complete"), lease=60)
    assert store.claim(delivery(stage="first"), lease=60).result is ClaimResult.STALE


def test_replay_guard(store: Store):
    guard = ReplayCheck("123:sig", b"body-a", ttl=600)
    claim = store.claim(delivery(), lease=60, replay=guard)
    assert claim.result is ClaimResult.NEW
    store.finish("t1:complete", token=claim.token)
    same_body = ReplayCheck("123:sig", b"body-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=same_body).result is ClaimResult.DUPLICATE
    other_body = ReplayCheck("123:sig", b"body-b", ttl=600)
    assert (
        store.claim(delivery("t1", "error"), lease=60, replay=other_body).result
        is ClaimResult.REPLAYED
    )
    assert store.get("t1:error") is None
    other_signature = ReplayCheck("124:sig", b"body-b", ttl=600)
    assert (
        store.claim(delivery("t1", "error"), lease=60, replay=other_signature).result
        is ClaimResult.NEW
    )


def test_replay_guard_is_recorded_even_for_a_duplicate(store: Store):
    finish(store, delivery())
    resend = ReplayCheck("200:sig", b"body-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=resend).result is ClaimResult.DUPLICATE
    forged = ReplayCheck("200:sig", b"body-forged", ttl=600)
    assert (
        store.claim(delivery("t1", "error"), lease=60, replay=forged).result is ClaimResult.REPLAYED
    )


def test_replay_guard_entry_expires(store: Store):
    # A signature covers its task id, so every use of one signature is on the same task.
    first = ReplayCheck("300:sig", b"body-a", ttl=0.05)
    assert store.claim(delivery(stage="text"), lease=60, replay=first).result is ClaimResult.NEW
    time.sleep(0.1)
    later = ReplayCheck("300:sig", b"body-b", ttl=600)
    assert store.claim(delivery(stage="first"), lease=60, replay=later).result is ClaimResult.NEW
    again = ReplayCheck("300:sig", b"body-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=again).result is ClaimResult.REPLAYED


def test_replay_guard_keeps_a_signature_whose_delivery_was_taken_over(store: Store):
    first = ReplayCheck("400:sig", b"body-a", ttl=600)
    claim = store.claim(delivery(), lease=60, replay=first)
    assert claim.result is ClaimResult.NEW
    assert store.finish("t1:complete", token=claim.token, error="boom")
    retry = ReplayCheck("401:sig", b"body-a", ttl=600)
    assert store.claim(delivery(), lease=60, replay=retry).result is ClaimResult.NEW
    forged = ReplayCheck("400:sig", b"body-forged", ttl=600)
    assert (
        store.claim(delivery("t1", "error"), lease=60, replay=forged).result is ClaimResult.REPLAYED
    )
    assert store.get("t1:error") is None


def test_replay_guard_outlives_a_purged_delivery(store: Store):
    first = ReplayCheck("500:sig", b"body-a", ttl=600)
    finish(store, delivery("t5", "text"), replay=first)
    assert store.purge(older_than=time.time() + 1) == 1
    forged = ReplayCheck("500:sig", b"body-forged", ttl=600)
    assert (
        store.claim(delivery("t5", "complete"), lease=60, replay=forged).result
        is ClaimResult.REPLAYED
    )


def test_listing_newest_first_with_filters(store: Store):
    now = time.time()
    finish(store, delivery("a", "complete", kind="music", received_at=now - 30))
    finish(store, delivery("b", "complete", kind="wav", received_at=now - 20), "handler broke")
    finish(store, delivery("a2", "first", kind="music", received_at=now - 10))
    store.claim(delivery("a2", "complete", kind="music", received_at=now), lease=60)

    assert [d.key for d in store.deliveries()] == [
        "a2:complete",
        "a2:first",
        "b:complete",
        "a:complete",
    ]
    assert [d.key for d in store.deliveries(limit=2)] == ["a2:complete", "a2:first"]
    assert [d.key for d in store.deliveries(status="failed")] == ["b:complete"]
    assert [d.key for d in store.deliveries(status=DeliveryStatus.DONE)] == [
        "a2:first",
        "a:complete",
    ]
    assert [d.key for d in store.deliveries(status="processing")] == ["a2:complete"]
    assert [d.key for d in store.deliveries(kind="wav")] == ["b:complete"]
    assert [d.key for d in store.deliveries(task_id="a2")] == ["a2:complete", "a2:first"]
    assert [d.key for d in store.deliveries(task_id="a")] == ["a:complete"]
    assert store.deliveries(kind="music", status="failed") == []
    failed = store.deliveries(status="failed")[0]
    assert failed.error == "handler broke"
    with pytest.raises(ValueError):
        store.deliveries(status="lost")


def test_listing_filters_by_stage_and_source_pages_with_offset_and_counts(store: Store):
    now = time.time()
    finish(store, delivery("p", "text", received_at=now))
    finish(store, delivery("p", "first", received_at=now + 1))
    store.claim(delivery("p", "complete", received_at=now + 2), lease=60)
    finish(store, delivery("q", "error", received_at=now + 3), "boom")
    finish(store, delivery("r", "complete", received_at=now + 4), "boom")

    assert [d.key for d in store.deliveries(stage="complete")] == ["r:complete", "p:complete"]
    assert [d.key for d in store.deliveries(stage="complete", status="failed")] == ["r:complete"]
    assert [d.key for d in store.deliveries(offset=1, limit=2)] == ["q:error", "p:complete"]
    assert [d.key for d in store.deliveries(offset=4, limit=10)] == ["p:text"]
    assert store.deliveries(offset=5) == []
    assert [d.key for d in store.deliveries(status="failed", offset=1)] == ["q:error"]
    assert len(store.deliveries(source="callback")) == 5
    assert store.deliveries(source="poll") == []
    assert store.count_by_status() == {"done": 2, "failed": 2, "processing": 1}
    polled = delivery("s", "complete", received_at=now + 9)
    polled.source = "poll"
    store.claim(polled, lease=60)
    assert [d.key for d in store.deliveries(source="poll")] == ["s:complete"]
    assert [d.key for d in store.deliveries(source="callback", limit=1)] == ["r:complete"]
    store.claim(delivery("z", "complete", received_at=now + 10), lease=0.0)
    assert store.count_by_status() == {"done": 2, "failed": 2, "processing": 2, "abandoned": 1}
    assert [d.key for d in store.deliveries(status="abandoned", stage="complete")] == ["z:complete"]


def test_a_limit_of_zero_or_less_lists_nothing_and_a_negative_offset_skips_nothing(store: Store):
    now = time.time()
    finish(store, delivery("m", "text", received_at=now))
    finish(store, delivery("m", "complete", received_at=now + 1))

    assert store.deliveries(limit=0) == []
    assert store.deliveries(limit=-1) == []
    assert store.deliveries(source="callback", limit=0) == []
    assert [d.key for d in store.deliveries(offset=-3)] == ["m:complete", "m:text"]


def test_purge_forgets_old_deliveries(store: Store):
    now = time.time()
    finish(store, delivery("old", received_at=now - 30 * 86400))
    finish(store, delivery("new", received_at=now), error="x")
    assert store.purge() == 1
    assert [d.task_id for d in store.deliveries()] == ["new"]
    assert store.get("old:complete") is None
    assert store.purge(older_than=now - 60) == 0
    assert store.purge(older_than=now + 1) == 1
    assert store.deliveries() == []


def test_retention_sets_what_purge_forgets(make_store: StoreFactory):
    store = make_store(retention=3600)
    assert store.retention == 3600
    now = time.time()
    finish(store, delivery("two-hours", received_at=now - 7200))
    finish(store, delivery("half-hour", received_at=now - 1800))
    assert store.purge() == 1
    assert [d.task_id for d in store.deliveries()] == ["half-hour"]


async def test_async_methods(store: Any):
    claim = await store.aclaim(delivery("as"), lease=60)
    assert claim.result is ClaimResult.NEW
    assert (await store.aclaim(delivery("as"), lease=60)).result is ClaimResult.IN_PROGRESS
    assert await store.afinish("as:complete", token=claim.token, error="nope")
    kept = await store.aget("as:complete")
    assert kept is not None and kept.status is DeliveryStatus.FAILED
    assert [d.key for d in await store.adeliveries(status="failed")] == ["as:complete"]
    retry = await store.aclaim(delivery("as"), lease=60)
    assert await store.aextend("as:complete", token=retry.token, lease=60)
    assert await store.afinish("as:complete", token=retry.token)
    assert not await store.afinish("as:complete", token=claim.token)
    assert (await store.aclaim(delivery("as"), lease=60)).result is ClaimResult.DUPLICATE


def test_replay_failed_runs_the_handlers_again(store: Store):
    receiver = unverified_receiver(store=store)
    bodies = [encode(make_callback(task_id=f"replay{i}")) for i in range(3)]
    broken = {"on": True}
    seen: list[str] = []

    def handler(sender: Any, event: Any, **extra: Any) -> None:
        seen.append(event.task_id)
        if broken["on"]:
            raise RuntimeError("database down")

    from suno_hooks.inbound import InboundRequest

    with task_completed.connected_to(handler):
        for body in bodies:
            assert receiver.handle(InboundRequest("POST", body)).status == 200
        assert len(store.deliveries(status="failed")) == 3
        broken["on"] = False
        outcomes = receiver.replay_failed()
        assert sorted(outcomes) == [f"replay{i}:complete" for i in range(3)]
        assert all(o.body == {"status": "received"} for o in outcomes.values())
        assert receiver.replay_failed() == {}
    assert seen == ["replay0", "replay1", "replay2"] * 2
    for i in range(3):
        kept = store.get(f"replay{i}:complete")
        assert kept is not None and kept.status is DeliveryStatus.DONE and kept.attempts == 2


def test_reopen_turns_a_done_delivery_failed_for_a_forced_replay(store: Store):
    assert isinstance(store, Reopens)
    assert not store.reopen("t1:complete", error="replay_requested")
    claim = store.claim(delivery(), lease=60)
    assert not store.reopen("t1:complete", error="replay_requested")
    assert store.finish("t1:complete", token=claim.token)
    assert store.reopen("t1:complete", error="replay_requested")
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.FAILED
    assert (kept.error, kept.attempts) == ("replay_requested", 1)
    assert not store.reopen("t1:complete", error="replay_requested")
    again = store.claim(delivery(), lease=60)
    assert (again.result, again.attempts) == (ClaimResult.NEW, 2)
    assert store.finish("t1:complete", token=again.token)
    assert store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE


def test_a_forced_replay_runs_the_handlers_of_a_done_delivery_again(store: Store):
    receiver = unverified_receiver(store=store)
    seen: list[str] = []

    def handler(sender: Any, event: Any, **extra: Any) -> None:
        seen.append(event.source)

    from suno_hooks.inbound import InboundRequest

    body = encode(make_callback(task_id="forced"))
    with task_completed.connected_to(handler):
        assert receiver.handle(InboundRequest("POST", body)).body == {"status": "received"}
        assert receiver.replay("forced:complete").body == {"status": "duplicate"}
        assert receiver.replay("forced:complete", force=True).body == {"status": "received"}
    assert seen == ["callback", "replay"]
    kept = store.get("forced:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert (kept.attempts, kept.error) == (2, None)


def test_listing_pages_through_a_large_inbox(store: Store):
    now = time.time()
    for i in range(450):
        finish(
            store, delivery(f"bulk{i:03}", received_at=now - 450 + i), "x" if i % 7 == 0 else None
        )
    newest = [f"bulk{i:03}:complete" for i in reversed(range(450))]
    assert [d.key for d in store.deliveries(limit=250)] == newest[:250]
    failed = [key for key in newest if int(key[4:7]) % 7 == 0]
    assert [d.key for d in store.deliveries(status="failed", limit=1000)] == failed
    assert [d.key for d in store.deliveries(status="failed", limit=5)] == failed[:5]
    assert [d.key for d in store.deliveries(task_id="bulk003")] == ["bulk003:complete"]


def _kept_file(name: str, size: int = 3, task: str = "k1") -> KeptFile:
    return KeptFile(
        key=f"{task}/complete/{name}",
        name=name,
        location=f"/music/{task}/complete/{name}",
        bytes=size,
        sha256="ab" * 32,
        content_type="audio/mpeg",
        kept_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        source=f"https://tempfile.aiquickdraw.com/{name}",
    )


def test_kept_media_is_merged_by_name_and_outlives_a_replay(store: Store):
    assert isinstance(store, RecordsKept)
    assert not store.record_kept("k1:complete", [_kept_file("a.mp3")])  # no such delivery
    first = store.claim(delivery("k1"), lease=60)
    assert store.get("k1:complete").kept == ()  # type: ignore[union-attr]
    assert store.record_kept("k1:complete", [_kept_file("b.mp3"), _kept_file("a.mp3")])
    assert store.record_kept("k1:complete", [_kept_file("b.mp3", size=9), _kept_file("c.txt")])
    kept = store.get("k1:complete")
    assert kept is not None and kept.status is DeliveryStatus.PROCESSING
    assert [(f.name, f.bytes) for f in kept.kept] == [("a.mp3", 3), ("b.mp3", 9), ("c.txt", 3)]
    assert kept.kept[0] == _kept_file("a.mp3")
    assert store.extend("k1:complete", token=first.token, lease=60)  # the lease is untouched
    assert store.finish("k1:complete", token=first.token, error="one file failed")
    retry = store.claim(delivery("k1"), lease=60)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2)
    assert store.finish("k1:complete", token=retry.token)
    done = store.get("k1:complete")
    assert done is not None and done.status is DeliveryStatus.DONE
    assert [f.name for f in done.kept] == ["a.mp3", "b.mp3", "c.txt"]
    (listed,) = store.deliveries(task_id="k1")
    assert listed.kept == done.kept
    assert listed.to_dict()["kept"][1]["bytes"] == 9


# Django on the test settings' in-memory SQLite cannot take writes from several threads (its
# shared cache answers "table is locked" at once); Django on PostgreSQL is among these kinds.
@pytest.mark.parametrize(
    "make_store", [kind for kind in STORE_KINDS if kind != "django"], indirect=True
)
def test_kept_media_recorded_at_once_from_threads_is_all_kept(make_store: StoreFactory):
    store = make_store()
    assert isinstance(store, RecordsKept)
    store.claim(delivery("k2"), lease=60)
    names = [f"f{number}.mp3" for number in range(8)]
    with ThreadPoolExecutor(4) as pool:
        done = list(
            pool.map(lambda n: store.record_kept("k2:complete", [_kept_file(n, task="k2")]), names)
        )
    assert all(done)
    kept = store.get("k2:complete")
    assert kept is not None and [f.name for f in kept.kept] == names


async def test_kept_media_async(store: Any):
    await store.aclaim(delivery("k3"), lease=60)
    assert await store.arecord_kept("k3:complete", iter([_kept_file("x.mp3", task="k3")]))
    assert not await store.arecord_kept("k4:complete", [_kept_file("x.mp3", task="k4")])
    kept = await store.aget("k3:complete")
    assert [f.key for f in kept.kept] == ["k3/complete/x.mp3"]
