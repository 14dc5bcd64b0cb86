"""PostgresStore on an event loop: the claims waiting at the same moment go to the server as one
transaction in one round trip (pipeline mode), and so do the finishes; each request still gets
the answer, lease token and error the unbatched path would give it."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from suno_hooks.stores import (
    Claim,
    ClaimResult,
    DeliveryStatus,
    ExpectedTask,
    PostgresStore,
    TaskState,
)
from suno_hooks.stores.postgres import _batches

from ..support.group_commit import (
    LoopTurns,
    answers,
    batched,
    delivery,
    history,
    kept,
    requests,
    signed,
    statuses,
)
from ..support.postgres import PostgresServer
from ..support.postgres_batches import refuse_rows_of, run_sql, token_of
from ..support.stores import postgres_schema_url


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    """A URL whose connections work in a new, empty schema."""
    return postgres_schema_url(postgres_server)


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    """A store whose schema exists."""
    opened = PostgresStore(url)
    opened.get("warm:complete")
    yield opened
    opened.close()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands of each round trip the batches made (each is sent in pipeline mode and ends
    with one sync), by their first word."""
    sent: list[list[str]] = []
    real_send = _batches._send

    async def recording_send(conn: Any, commands: list[tuple[str, Any]]) -> Any:
        sent.append([sql.split()[0] for sql, _ in commands])
        return await real_send(conn, commands)

    monkeypatch.setattr(_batches, "_send", recording_send)
    return sent


async def test_concurrent_claims_form_batches_and_each_gets_the_unbatched_answer(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_schema_url(postgres_server)
    batching, one_by_one = PostgresStore(url), PostgresStore(postgres_schema_url(postgres_server))
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
    assert all(token_of(url, key) == ("processing", token) for key, token in owners)
    finished = await asyncio.gather(*(batching.afinish(k, token=t) for k, t in owners))
    assert finished == [True] * len(owners)
    assert max(batching.batch_sizes.finishes) > 1, batching.batch_sizes.finishes
    for store in (batching, one_by_one):
        store.close()


async def test_a_batch_is_one_round_trip(store: PostgresStore, round_trips: list[list[str]]):
    claims = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in "abc"))
    assert [c.result for c in claims] == [ClaimResult.NEW] * 3
    assert round_trips == [["BEGIN", "SELECT", "SELECT", "SELECT", "COMMIT"]]  # no savepoint
    finished = await asyncio.gather(
        *(store.afinish(f"{t}:complete", token=c.token) for t, c in zip("abc", claims, strict=True))
    )
    assert finished == [True] * 3 and len(round_trips) == 2
    assert store.batch_sizes.claims == store.batch_sizes.finishes == Counter({3: 1})


async def test_a_claim_refused_by_a_constraint_or_bad_data_fails_alone(
    url: str, store: PostgresStore, round_trips: list[list[str]]
) -> None:
    refuse_rows_of(url, "poison")
    unstorable = delivery("unstorable")
    unstorable.received_at = 1e20  # no PostgreSQL timestamp holds it
    batch = [delivery("a"), delivery("poison"), delivery("b"), unstorable, delivery("c")]
    outcomes = await asyncio.gather(
        *(store.aclaim(d, lease=60) for d in batch), return_exceptions=True
    )
    refused, overflowed = outcomes.pop(1), outcomes.pop(2)
    assert isinstance(refused, psycopg.errors.CheckViolation) and "refused poison" in str(refused)
    assert isinstance(overflowed, psycopg.errors.DatetimeFieldOverflow), overflowed
    assert [c.result for c in outcomes if isinstance(c, Claim)] == [ClaimResult.NEW] * 3
    assert store.batch_sizes.claims == Counter({5: 1})
    # Without savepoints, the batch stops at the first failing item; it is rolled back and sent
    # again with a savepoint per item, then once more after each failing item: the rest of it.
    assert [len(commands) for commands in round_trips] == [7, 18, 12, 6]
    assert "SAVEPOINT" not in round_trips[0]
    assert round_trips[1][:3] == ["ROLLBACK", "BEGIN", "SAVEPOINT"]
    assert round_trips[2][:3] == round_trips[3][:3] == ["ROLLBACK", "RELEASE", "SAVEPOINT"]
    assert sorted(kept(store)) == ["a:complete", "b:complete", "c:complete"]


async def test_a_claim_that_fails_after_writing_is_rolled_back_alone(
    url: str, store: PostgresStore
) -> None:
    refuse_rows_of(url, "broken", "AFTER INSERT")
    requests = [signed(t, "complete", t.encode(), f"sig-{t}") for t in ("a", "broken", "b")]
    outcomes = await asyncio.gather(
        *(store.aclaim(d, lease=60, replay=r) for d, r in requests), return_exceptions=True
    )
    assert isinstance(outcomes[1], psycopg.errors.CheckViolation)
    assert [o.result for o in outcomes if isinstance(o, Claim)] == [ClaimResult.NEW] * 2
    assert store.batch_sizes.claims == Counter({3: 1})
    assert store.get("broken:complete") is None
    run_sql(url, "DROP TRIGGER refuse_broken_after_insert ON suno_hooks_deliveries")
    # Nothing of it stayed, not even its signature's guard: the same signature with another
    # body would be refused as replayed if it had.
    retry, guard = signed("broken", "complete", b"another body", "sig-broken")
    again = await store.aclaim(retry, lease=60, replay=guard)
    assert (again.result, again.attempts) == (ClaimResult.NEW, 1)
    third, third_guard = signed("broken", "first", b"a third body", "sig-broken")
    assert (await store.aclaim(third, lease=60, replay=third_guard)).result is (
        ClaimResult.REPLAYED
    )


async def test_a_failed_commit_fails_every_claim_of_the_batch_and_keeps_none(
    url: str, store: PostgresStore
) -> None:
    refuse_rows_of(url, "dooms", "AT COMMIT")
    tasks = ["a", "dooms", "b"]
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=60) for t in tasks), return_exceptions=True
    )
    assert all(isinstance(o, psycopg.errors.CheckViolation) for o in outcomes), outcomes
    assert kept(store) == {}
    run_sql(url, "DROP TRIGGER refuse_dooms_at_commit ON suno_hooks_deliveries")
    # The sender retries each one, and each is claimed as if for the first time.
    retried = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in tasks))
    assert [(c.result, c.attempts) for c in retried] == [(ClaimResult.NEW, 1)] * 3
    assert store.batch_sizes.claims == Counter({3: 2})


async def test_a_lone_claim_is_a_batch_of_one_taken_on_the_next_turn(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch, round_trips: list[list[str]]
) -> None:
    await store.aget("warm:complete")  # an asyncio connection is open and kept
    taken: list[int] = []
    real = _batches.in_one_transaction

    async def noting_the_turn(conn: Any, statements: Any) -> Any:
        taken.append(loop.turns)
        return await real(conn, statements)

    monkeypatch.setattr(_batches, "in_one_transaction", noting_the_turn)
    async with LoopTurns() as loop:
        asked = loop.turns
        claim = await store.aclaim(delivery("lone"), lease=60)
        asked_to_finish = loop.turns
        assert await store.afinish("lone:complete", token=claim.token)
    assert claim.result is ClaimResult.NEW
    # Written on the loop's next turn: nothing waits for company, and a batch of one is sent
    # as its statement alone, as unbatched (no pipeline, no savepoint).
    assert taken[0] - asked <= 1 and taken[1] - asked_to_finish <= 1, (asked, taken)
    assert round_trips == []
    assert store.batch_sizes.claims == store.batch_sizes.finishes == Counter({1: 1})


async def test_finishes_form_batches_and_a_stale_token_loses_alone(store: PostgresStore) -> None:
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
    assert store.batch_sizes.finishes == Counter({7: 1})
    finished = statuses(store)
    assert finished.pop("t0:complete") is DeliveryStatus.FAILED
    assert set(finished.values()) == {DeliveryStatus.DONE}
    settled = [store.get_task(f"t{i}") for i in range(6)]
    assert [t.state if t else None for t in settled] == [TaskState.PENDING] + [
        TaskState.SETTLED
    ] * 3 + [TaskState.PENDING] * 2


async def test_a_finish_refused_by_the_database_fails_alone(url: str, store: PostgresStore):
    store.expect(ExpectedTask("broken", "generate"))
    claims = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in "abc"))
    claims.append(await store.aclaim(delivery("broken"), lease=60))
    refuse_rows_of(url, "broken", "BEFORE UPDATE")
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
    assert isinstance(outcomes[1], psycopg.errors.CheckViolation)
    assert store.batch_sizes.finishes == Counter({4: 1})
    assert statuses(store) == {
        "a:complete": DeliveryStatus.DONE,
        "b:complete": DeliveryStatus.DONE,
        "c:complete": DeliveryStatus.FAILED,
        "broken:complete": DeliveryStatus.PROCESSING,
    }
    task = store.get_task("broken")
    assert task is not None and task.state is TaskState.PENDING


def test_one_store_serves_several_event_loops_in_turn_and_at_once(store: PostgresStore) -> None:
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


async def test_statements_skipped_after_a_refused_item_are_prepared_again(
    url: str, store: PostgresStore
):
    """Items are sent as prepared statements. In a batch where an item is refused, the
    statements after it are skipped by the server, their preparation too: the batch's retry
    and every later batch on the same connections still run them."""
    keys = ["broken", "a", "b", "c", "d", "e"]
    claims = {t: await store.aclaim(delivery(t), lease=60) for t in keys}
    refuse_rows_of(url, "broken", "BEFORE UPDATE")
    first = await asyncio.gather(
        store.afinish("broken:complete", token=claims["broken"].token),
        store.afinish("a:complete", token=claims["a"].token),
        store.afinish("b:complete", token=claims["b"].token, error="boom"),
        return_exceptions=True,
    )
    assert isinstance(first[0], psycopg.errors.CheckViolation)
    assert first[1:] == [True, True]
    for _ in range(3):  # each later shape, alone and in a batch, on the kept connections
        assert await store.afinish("c:complete", token="lost") is False
    later = await asyncio.gather(
        store.afinish("c:complete", token=claims["c"].token),
        store.afinish("d:complete", token=claims["d"].token, error="boom"),
        store.afinish("e:complete", token=claims["e"].token),
    )
    assert later == [True, True, True]
    assert statuses(store) == {
        "broken:complete": DeliveryStatus.PROCESSING,
        "a:complete": DeliveryStatus.DONE,
        "b:complete": DeliveryStatus.FAILED,
        "c:complete": DeliveryStatus.DONE,
        "d:complete": DeliveryStatus.FAILED,
        "e:complete": DeliveryStatus.DONE,
    }
    assert store.batch_sizes.finishes == Counter({3: 2, 1: 3})
    # The kept connection's session holds the finishes' prepared statements.
    prepared = await store._arows("SELECT count(*) FROM pg_prepared_statements", ())
    assert prepared[0][0] >= 1
