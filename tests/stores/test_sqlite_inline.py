"""SQLiteStore on an event loop: a new claim and its finish are written inline when the file is
free, never waiting on the file lock, and the write-ahead log is still checkpointed."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

from suno_hooks.stores import ClaimResult, Delivery, DeliveryStatus, ExpectedTask, SQLiteStore
from suno_hooks.stores.sqlite._inline import CHECKPOINT_EVERY


def delivery(task_id: str, stage: str = "complete") -> Delivery:
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=b"{}" * 600)


async def test_a_held_write_lock_sends_the_claim_to_a_thread_and_the_loop_keeps_running(
    tmp_path: Path,
):
    store = SQLiteStore(tmp_path / "inbox.db")
    other = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    claim = asyncio.ensure_future(store.aclaim(delivery("locked"), lease=60))
    ticks = 0
    while ticks < 20:
        await asyncio.sleep(0.005)
        ticks += 1
    assert not claim.done()
    other.execute("COMMIT")
    outcome = await asyncio.wait_for(claim, 10)
    assert outcome.result is ClaimResult.NEW
    assert await store.afinish_settling(
        "locked:complete", token=outcome.token, error=None, task_id="locked", by="callback"
    )
    kept = store.get("locked:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    other.close()
    store.close()


async def test_a_held_write_lock_sends_the_finish_to_a_thread(tmp_path: Path):
    store = SQLiteStore(tmp_path / "inbox.db")
    store.expect(ExpectedTask("held", "generate"))
    claim = await store.aclaim(delivery("held"), lease=60)
    other = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    finishing = asyncio.ensure_future(
        store.afinish_settling(
            "held:complete", token=claim.token, error=None, task_id="held", by="callback"
        )
    )
    await asyncio.sleep(0.05)
    assert not finishing.done()
    other.execute("COMMIT")
    assert await asyncio.wait_for(finishing, 10)
    task = store.get_task("held")
    assert task is not None and task.settled_by == "callback"
    other.close()
    store.close()


async def test_refusals_are_decided_by_the_full_claim(tmp_path: Path):
    store = SQLiteStore(tmp_path / "inbox.db")
    first = await store.aclaim(delivery("t"), lease=60)
    assert first.result is ClaimResult.NEW and first.attempts == 1
    assert (await store.aclaim(delivery("t"), lease=60)).result is ClaimResult.IN_PROGRESS
    assert await store.afinish("t:complete", token=first.token, error="boom")
    retry = await store.aclaim(delivery("t"), lease=60)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2)
    assert await store.afinish("t:complete", token=retry.token)
    assert (await store.aclaim(delivery("t"), lease=60)).result is ClaimResult.DUPLICATE
    assert (await store.aclaim(delivery("t", "text"), lease=60)).result is ClaimResult.STALE
    assert not await store.afinish("t:complete", token=first.token)
    store.close()


async def test_inline_writes_keep_the_write_ahead_log_checkpointed(tmp_path: Path):
    store = SQLiteStore(tmp_path / "inbox.db")
    wal = tmp_path / "inbox.db-wal"
    sizes = []
    for _round in range(6):
        for _ in range(CHECKPOINT_EVERY):
            task_id = uuid.uuid4().hex
            claim = await store.aclaim(delivery(task_id), lease=60)
            assert await store.afinish(f"{task_id}:complete", token=claim.token)
        await asyncio.sleep(0.2)  # the checkpoint runs in a worker thread
        sizes.append(wal.stat().st_size)
    # Without checkpoints the log would grow by every round's pages; with them it is reused.
    assert sizes[-1] <= 2 * max(sizes[:2]), sizes
    assert len(store.deliveries(limit=10_000)) == 6 * CHECKPOINT_EVERY
    store.close()


def test_a_long_lived_reader_delays_the_checkpoint_never_the_writes(tmp_path: Path):
    store = SQLiteStore(tmp_path / "inbox.db", timeout=30)
    claim = store.claim(delivery("before"), lease=60)
    assert store.finish("before:complete", token=claim.token)
    reader = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM suno_hooks_deliveries").fetchone() == (1,)
    claim = store.claim(delivery("after"), lease=60)  # the reader's snapshot is now old
    # The checkpoint cannot restart the log under the reader: it gives up after
    # CHECKPOINT_WAIT, not after the store's 30 s timeout, and holds no lock afterwards.
    assert store._checkpoint() is False
    writer = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None)
    writer.execute("PRAGMA busy_timeout=0")
    writer.execute("UPDATE suno_hooks_deliveries SET error = NULL WHERE key = 'after:complete'")
    reader.execute("COMMIT")
    assert store._checkpoint() is True
    assert store.finish("after:complete", token=claim.token)
    for conn in (reader, writer):
        conn.close()
    store.close()
