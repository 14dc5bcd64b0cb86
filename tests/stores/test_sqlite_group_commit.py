"""SQLiteStore on an event loop: the claims waiting at the same moment go to the file as one
transaction, and so do the finishes; each request still gets the answer, lease token and error
the unbatched path would give it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest

from suno_hooks.stores import (
    Claim,
    ClaimResult,
    DeliveryStatus,
    ExpectedTask,
    SQLiteStore,
    TaskState,
)

from ..support.group_commit import (
    Injected,
    LoopTurns,
    answers,
    batched,
    delivery,
    fail_after_writing,
    history,
    kept,
    refuse_rows_of,
    requests,
    signed,
    statuses,
    wait_abandoned,
    write_lock_held,
)


async def test_concurrent_claims_form_batches_and_each_gets_the_unbatched_answer(
    tmp_path: Path,
) -> None:
    batching, one_by_one = SQLiteStore(tmp_path / "a.db"), SQLiteStore(tmp_path / "b.db")
    history(batching)
    history(one_by_one)
    await asyncio.sleep(0.01)  # the lapsed leases end
    claims = await asyncio.gather(*(batching.aclaim(d, lease=60, replay=r) for d, r in requests()))
    expected = [one_by_one.claim(d, lease=60, replay=r) for d, r in requests()]

    assert answers(claims) == answers(expected)
    assert {c.result for c in claims} == set(ClaimResult)
    assert kept(batching) == kept(one_by_one)
    sizes = batching.batch_sizes.claims
    assert max(sizes) > 1 and batched(sizes) == len(claims), sizes
    tokens = [c.token for c in claims if c.result is ClaimResult.NEW]
    assert len(set(tokens)) == len(tokens) == 56  # 50 new, 3 retried, 3 taken over
    owners = [(d.key, c.token) for (d, _), c in zip(requests(), claims, strict=True) if c.token]
    finished = await asyncio.gather(*(batching.afinish(k, token=t) for k, t in owners))
    assert finished == [True] * len(owners)
    for store in (batching, one_by_one):
        store.close()


async def test_a_claim_refused_by_a_constraint_fails_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    refuse_rows_of(tmp_path / "inbox.db", "poison")
    tasks = ["a", "b", "poison", "c", "d"]
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=60) for t in tasks), return_exceptions=True
    )
    refused = outcomes.pop(2)
    assert isinstance(refused, sqlite3.IntegrityError) and "refused poison" in str(refused)
    assert all(isinstance(c, Claim) and c.result is ClaimResult.NEW for c in outcomes)
    assert store.batch_sizes.claims == Counter({5: 1})
    assert store.get("poison:complete") is None
    assert sorted(kept(store)) == ["a:complete", "b:complete", "c:complete", "d:complete"]
    store.close()


async def test_a_batch_takes_savepoints_only_when_one_of_its_items_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from suno_hooks.stores.sqlite import _batches

    store = SQLiteStore(tmp_path / "inbox.db")
    statements: list[str] = []
    real = _batches._write_all

    def traced(conn: sqlite3.Connection, *args: object, **kwargs: object) -> object:
        conn.set_trace_callback(statements.append)
        try:
            return real(conn, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            conn.set_trace_callback(None)

    monkeypatch.setattr(_batches, "_write_all", traced)
    await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in "abc"))
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
    assert not [s for s in statements if "SAVEPOINT" in s], statements
    assert len(statements) == 5  # BEGIN, one INSERT per claim, COMMIT

    statements.clear()
    refuse_rows_of(tmp_path / "inbox.db", "poison")
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=60) for t in ("d", "poison", "e")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert statements.count("BEGIN IMMEDIATE") == 2 and statements.count("ROLLBACK") == 1
    assert statements.count("SAVEPOINT item") == 3 and statements.count("ROLLBACK TO item") == 1
    assert sorted(kept(store)) == [f"{t}:complete" for t in "abcde"]
    store.close()


async def test_a_claim_that_fails_after_writing_is_rolled_back_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    fail_after_writing(monkeypatch, "claim_in_transaction", "broken:complete")
    requests = [signed(t, "complete", t.encode(), f"sig-{t}") for t in ("a", "broken", "b")]
    outcomes = await asyncio.gather(
        *(store.aclaim(d, lease=60, replay=r) for d, r in requests), return_exceptions=True
    )
    assert isinstance(outcomes[1], Injected)
    assert [o.result for o in outcomes if isinstance(o, Claim)] == [ClaimResult.NEW] * 2
    assert store.batch_sizes.claims == Counter({3: 1})
    assert store.get("broken:complete") is None
    monkeypatch.undo()
    # Nothing of it stayed, not even its signature's guard: the same signature with another
    # body would be refused as replayed if it had.
    retry, guard = signed("broken", "complete", b"another body", "sig-broken")
    again = await store.aclaim(retry, lease=60, replay=guard)
    assert (again.result, again.attempts) == (ClaimResult.NEW, 1)
    # The retry's guard is kept, as the failed claim's would have been.
    third, third_guard = signed("broken", "first", b"a third body", "sig-broken")
    refused = await store.aclaim(third, lease=60, replay=third_guard)
    assert refused.result is ClaimResult.REPLAYED
    store.close()


class ForeignKeysStore(SQLiteStore):
    """A store whose connections enforce foreign keys (for a constraint checked at commit)."""

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        conn.execute("PRAGMA foreign_keys=ON")
        return conn


def fail_the_commit_for(path: Path, task_id: str) -> None:
    """A trigger that makes any transaction inserting a delivery of `task_id` fail at COMMIT
    (a deferred foreign key to nothing)."""
    with sqlite3.connect(path) as conn:
        conn.executescript(
            f"""
            CREATE TABLE parent (id TEXT PRIMARY KEY);
            CREATE TABLE child (
                parent TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED
            );
            CREATE TRIGGER orphan AFTER INSERT ON suno_hooks_deliveries
            WHEN NEW.task_id = '{task_id}' BEGIN INSERT INTO child VALUES ('none'); END;
            """
        )
    conn.close()


async def test_a_failed_commit_fails_every_claim_of_the_batch_and_keeps_none(
    tmp_path: Path,
) -> None:
    store = ForeignKeysStore(tmp_path / "inbox.db")
    fail_the_commit_for(tmp_path / "inbox.db", "dooms")
    tasks = ["a", "dooms", "b"]
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=60) for t in tasks), return_exceptions=True
    )
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert kept(store) == {}
    with sqlite3.connect(tmp_path / "inbox.db") as conn:
        conn.execute("DROP TRIGGER orphan")
    conn.close()
    # The sender retries each one, and each is claimed as if for the first time.
    retried = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in tasks))
    assert [(c.result, c.attempts) for c in retried] == [(ClaimResult.NEW, 1)] * 3
    assert store.batch_sizes.claims == Counter({3: 2})
    store.close()


class FullDiskStore(SQLiteStore):
    """A store whose connections opened while `full` is set cannot grow the file (as if the
    disk were full when they were opened)."""

    full = False

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        if self.full:
            (pages,) = conn.execute("PRAGMA page_count").fetchone()
            conn.execute(f"PRAGMA max_page_count={pages}")
        return conn


async def test_a_database_fault_fails_the_batch_and_its_connection_is_not_kept(
    tmp_path: Path,
) -> None:
    store = FullDiskStore(tmp_path / "inbox.db")
    store.full = True
    big = [delivery(t, body=b"x" * 50_000) for t in "abc"]
    outcomes = await asyncio.gather(
        *(store.aclaim(d, lease=60) for d in big), return_exceptions=True
    )
    assert all(isinstance(o, sqlite3.OperationalError) for o in outcomes), outcomes
    assert "full" in str(outcomes[0])
    store.full = False
    # The cause has passed: the retries are claimed on a fresh connection.
    retried = await asyncio.gather(*(store.aclaim(d, lease=60) for d in big))
    assert [(c.result, c.attempts) for c in retried] == [(ClaimResult.NEW, 1)] * 3
    assert store.batch_sizes.claims == Counter({3: 2})
    store.close()


async def test_a_lone_claim_is_a_batch_of_one_written_on_the_next_turn(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    store.get("warm:complete")  # the file is open and migrated before the count starts
    async with LoopTurns() as loop:
        before = loop.turns
        claim = await store.aclaim(delivery("lone"), lease=60)
        claimed_after = loop.turns - before
        before = loop.turns
        assert await store.afinish("lone:complete", token=claim.token)
        finished_after = loop.turns - before
    assert claim.result is ClaimResult.NEW
    assert claimed_after <= 2 and finished_after <= 2, (claimed_after, finished_after)
    assert store.batch_sizes.claims == store.batch_sizes.finishes == Counter({1: 1})
    store.close()


async def test_finishes_form_batches_and_a_stale_token_loses_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    for i in range(6):
        store.expect(ExpectedTask(f"t{i}", "generate"))
    first = await store.aclaim(delivery("t0"), lease=0.001)
    await asyncio.sleep(0.01)
    claims = await asyncio.gather(*(store.aclaim(delivery(f"t{i}"), lease=60) for i in range(6)))
    assert [c.attempts for c in claims] == [2, 1, 1, 1, 1, 1]  # t0 was taken over
    finishes = [store.afinish("t0:complete", token=first.token)]  # the lapsed owner
    finishes += [store.afinish("t0:complete", token=claims[0].token, error="boom")]
    finishes += [
        store.afinish_settling(f"t{i}:complete", token=c.token, error=None, task_id=f"t{i}", by="x")
        for i, c in enumerate(claims[1:4], start=1)
    ]
    finishes += [store.afinish(f"t{i}:complete", token=claims[i].token) for i in (4, 5)]
    assert await asyncio.gather(*finishes) == [False] + [True] * 6
    assert max(store.batch_sizes.finishes) == 7, store.batch_sizes.finishes
    finished = statuses(store)
    assert finished.pop("t0:complete") is DeliveryStatus.FAILED
    assert set(finished.values()) == {DeliveryStatus.DONE}
    settled = [store.get_task(f"t{i}") for i in range(6)]
    assert [t.state if t else None for t in settled] == [TaskState.PENDING] + [
        TaskState.SETTLED
    ] * 3 + [TaskState.PENDING] * 2
    store.close()


async def test_a_finish_that_fails_after_writing_is_rolled_back_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    store.expect(ExpectedTask("broken", "generate"))
    claims = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in "abc"))
    claims.append(await store.aclaim(delivery("broken"), lease=60))
    fail_after_writing(monkeypatch, "finish_and_settle", "broken:complete")
    outcomes = await asyncio.gather(
        store.afinish("a:complete", token=claims[0].token),
        store.afinish_settling(
            "broken:complete", token=claims[3].token, error=None, task_id="broken", by="x"
        ),
        store.afinish("b:complete", token=claims[1].token),
        store.afinish("c:complete", token=claims[2].token, error="boom"),
        return_exceptions=True,
    )
    assert outcomes[0] is outcomes[2] is outcomes[3] is True
    assert isinstance(outcomes[1], Injected)
    assert statuses(store) == {
        "a:complete": DeliveryStatus.DONE,
        "b:complete": DeliveryStatus.DONE,
        "c:complete": DeliveryStatus.FAILED,
        "broken:complete": DeliveryStatus.PROCESSING,
    }
    task = store.get_task("broken")
    assert task is not None and task.state is TaskState.PENDING
    store.close()


async def test_claims_queue_while_a_batch_waits_for_the_lock_in_a_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    with write_lock_held(tmp_path / "inbox.db") as other:
        first = asyncio.ensure_future(store.aclaim(delivery("first"), lease=60))
        await asyncio.sleep(0.05)  # its batch is in a worker thread, waiting for the lock
        later = [asyncio.ensure_future(store.aclaim(delivery(f"l{i}"), lease=60)) for i in range(8)]
        await asyncio.sleep(0.05)
        assert not first.done() and not any(claim.done() for claim in later)
        other.execute("COMMIT")
        claims = await asyncio.gather(first, *later)
    assert {c.result for c in claims} == {ClaimResult.NEW}
    assert store.batch_sizes.claims == Counter({1: 1, 8: 1})
    store.close()


async def test_a_claim_cancelled_before_its_batch_is_taken_writes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    with write_lock_held(tmp_path / "inbox.db") as other:
        first = asyncio.ensure_future(store.aclaim(delivery("first"), lease=60))
        await asyncio.sleep(0.05)
        waiting = [asyncio.ensure_future(store.aclaim(delivery(t), lease=60)) for t in "abc"]
        await asyncio.sleep(0.05)
        waiting[1].cancel()
        other.execute("COMMIT")
        outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)
    assert isinstance(outcomes.pop(2), asyncio.CancelledError)
    assert {c.result for c in outcomes if isinstance(c, Claim)} == {ClaimResult.NEW}
    assert store.get("b:complete") is None
    assert store.batch_sizes.claims == Counter({1: 1, 2: 1})
    store.close()


async def test_a_claim_cancelled_while_its_batch_is_written_keeps_a_lease_that_ends(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    with write_lock_held(tmp_path / "inbox.db") as other:
        claims = [
            asyncio.ensure_future(store.aclaim(delivery(t), lease=lease))
            for t, lease in (("a", 60), ("gone", 0.05), ("b", 60))
        ]
        await asyncio.sleep(0.05)  # one batch, waiting for the lock in a worker thread
        claims[1].cancel()
        other.execute("COMMIT")
        outcomes = await asyncio.gather(*claims, return_exceptions=True)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert [o.result for o in outcomes if isinstance(o, Claim)] == [ClaimResult.NEW] * 2
    # Claimed, never answered: like an unbatched claim whose caller went away.
    wait_abandoned(store, "gone:complete")
    again = await store.aclaim(delivery("gone"), lease=60)
    assert (again.result, again.attempts) == (ClaimResult.NEW, 2)
    store.close()


async def test_a_store_closed_while_a_batch_is_written_still_answers_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")
    with write_lock_held(tmp_path / "inbox.db") as other:
        claims = [asyncio.ensure_future(store.aclaim(delivery(t), lease=60)) for t in "abcde"]
        await asyncio.sleep(0.05)
        store.close()
        other.execute("COMMIT")
        outcomes = await asyncio.gather(*claims)
    assert {c.result for c in outcomes} == {ClaimResult.NEW}
    reopened = SQLiteStore(tmp_path / "inbox.db")
    assert sorted(kept(reopened)) == [f"{t}:complete" for t in "abcde"]
    reopened.close()


def test_one_store_serves_several_event_loops_in_turn_and_at_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "inbox.db")

    async def claim_all(prefix: str) -> list[ClaimResult]:
        claims = await asyncio.gather(
            *(store.aclaim(delivery(f"{prefix}{i}"), lease=60) for i in range(10))
        )
        return [c.result for c in claims]

    assert asyncio.run(claim_all("first")) == [ClaimResult.NEW] * 10
    assert asyncio.run(claim_all("second")) == [ClaimResult.NEW] * 10
    results: list[list[ClaimResult]] = []
    start = threading.Barrier(2)

    def in_a_thread() -> None:
        start.wait()
        results.append(asyncio.run(claim_all("shared")))

    threads = [threading.Thread(target=in_a_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each shared key was claimed by exactly one of the two loops; the other saw it in progress.
    per_key = [Counter(pair) for pair in zip(*results, strict=True)]
    assert per_key == [Counter({ClaimResult.NEW: 1, ClaimResult.IN_PROGRESS: 1})] * 10
    assert batched(store.batch_sizes.claims) == 40
    store.close()
