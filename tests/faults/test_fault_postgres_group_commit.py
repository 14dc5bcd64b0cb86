"""Group commit on PostgreSQL under faults: a session terminated, or the server stopped, while a
batch waits inside its transaction fails every request of that batch and keeps none of it, and
what was answered before stays; under load, with the store's sessions terminated again and
again, every claim answered new and every finish answered True is in the database."""

from __future__ import annotations

import asyncio
import threading
import uuid

import psycopg

from suno_hooks.stores import Claim, ClaimResult, PostgresStore

from ..support.group_commit import delivery
from ..support.postgres import PostgresServer, restartable_postgres
from ..support.postgres_batches import claim_held_open, terminate, token_of, until_waiting
from ..support.stores import postgres_schema_url


def named_url(server: PostgresServer) -> tuple[str, str]:
    """A URL in a schema of its own whose sessions carry a name of their own, and the name."""
    name = f"suno-{uuid.uuid4().hex[:12]}"
    return f"{postgres_schema_url(server)}&application_name={name}", name


async def claimed_before(store: PostgresStore) -> list[tuple[str, str]]:
    """Five deliveries claimed and answered before the fault: their keys and tokens."""
    claims = await asyncio.gather(
        *(store.aclaim(delivery(f"before{i}"), lease=60) for i in "01234")
    )
    assert {c.result for c in claims} == {ClaimResult.NEW}
    return [(f"before{i}:complete", c.token) for i, c in zip("01234", claims, strict=True)]


async def test_a_terminated_session_fails_its_batch_and_keeps_none_of_it(
    postgres_server: PostgresServer,
) -> None:
    url, name = named_url(postgres_server)
    store = PostgresStore(url)
    answered = await claimed_before(store)
    with claim_held_open(url, "held"):
        in_flight = [
            asyncio.ensure_future(store.aclaim(delivery(t), lease=60)) for t in ("a", "held", "b")
        ]
        await until_waiting(url, name)  # the batch wrote `a` and waits for the held row
        queued = [asyncio.ensure_future(store.aclaim(delivery(t), lease=60)) for t in "cd"]
        killed = 0
        # The store replaces a connection found dead once; the batch waits again on the new one.
        while not all(claim.done() for claim in in_flight):
            killed += await asyncio.to_thread(terminate, url, name, waiting=True)
            await asyncio.sleep(0.005)
        failed = await asyncio.gather(*in_flight, return_exceptions=True)
    later = await asyncio.gather(*queued)

    assert killed >= 1
    assert all(isinstance(o, psycopg.OperationalError) for o in failed), failed
    assert [c.result for c in later] == [ClaimResult.NEW] * 2
    for key, token in answered:
        assert token_of(url, key) == ("processing", token)
    assert [token_of(url, f"{t}:complete") for t in ("a", "held", "b")] == [None] * 3
    retried = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in ("a", "held")))
    assert [(c.result, c.attempts) for c in retried] == [(ClaimResult.NEW, 1)] * 2
    store.close()


def test_a_stopped_server_fails_the_batches_in_flight_and_keeps_what_was_answered() -> None:
    with restartable_postgres() as cluster:
        url, name = named_url(cluster.server)
        store = PostgresStore(url)

        async def scenario() -> None:
            answered = await claimed_before(store)
            with claim_held_open(url, "held"):
                in_flight = [
                    asyncio.ensure_future(store.aclaim(delivery(t), lease=60))
                    for t in ("a", "held", "b")
                ]
                await until_waiting(url, name)
                queued = [asyncio.ensure_future(store.aclaim(delivery(t), lease=60)) for t in "cd"]
                await asyncio.to_thread(cluster.stop)
                outcomes = await asyncio.gather(*in_flight, *queued, return_exceptions=True)
            # A batch the server committed before it stopped is answered; every other one
            # fails whole, none of it kept.
            tasks = ("a", "held", "b", "c", "d")
            lost = [t for t, o in zip(tasks, outcomes, strict=True) if not isinstance(o, Claim)]
            assert all(isinstance(o, (Claim, psycopg.OperationalError)) for o in outcomes)
            # The batch queued behind the held one is only sent once the stop has released the
            # lock; the held batch itself may still commit, as the stop ends the lock's holder
            # and the batch's own session in no fixed order.
            assert lost, outcomes

            await asyncio.to_thread(cluster.start)
            for key, token in answered:
                assert token_of(url, key) == ("processing", token)
            for task, outcome in zip(tasks, outcomes, strict=True):
                kept = token_of(url, f"{task}:complete")
                expected = ("processing", outcome.token) if isinstance(outcome, Claim) else None
                assert kept == expected, (task, outcome)
            # The dead connections are replaced; the sender's retries are claimed afresh.
            retried = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in lost))
            assert [(c.result, c.attempts) for c in retried] == [(ClaimResult.NEW, 1)] * len(lost)

        asyncio.run(scenario())
        store.close()


async def test_sessions_terminated_under_load_lose_nothing_answered(
    postgres_server: PostgresServer,
) -> None:
    url, name = named_url(postgres_server)
    store = PostgresStore(url)
    store.get("warm:complete")
    stop, killed = threading.Event(), [0]

    def keep_terminating() -> None:
        while not stop.wait(0.005):
            killed[0] += terminate(url, name)

    claimed: dict[str, str] = {}
    finished: set[str] = set()
    errors: list[BaseException] = []
    killer = threading.Thread(target=keep_terminating)
    killer.start()
    try:
        for round_ in range(20):
            keys = [f"r{round_}-{i}" for i in range(25)]
            claims = await asyncio.gather(
                *(store.aclaim(delivery(k), lease=60) for k in keys), return_exceptions=True
            )
            owners: list[tuple[str, str]] = []
            for key, claim in zip(keys, claims, strict=True):
                if isinstance(claim, Claim):
                    assert claim.result is ClaimResult.NEW
                    owners.append((f"{key}:complete", claim.token))
                else:
                    errors.append(claim)
            claimed.update(owners)
            outcomes = await asyncio.gather(
                *(store.afinish(k, token=t) for k, t in owners), return_exceptions=True
            )
            for (key, _), outcome in zip(owners, outcomes, strict=True):
                if outcome is True:
                    finished.add(key)
                else:
                    errors.append(outcome)
    finally:
        stop.set()
        killer.join()

    assert killed[0] > 0 and claimed and finished
    assert all(isinstance(e, psycopg.OperationalError) for e in errors), errors
    assert max(store.batch_sizes.claims) > 1, store.batch_sizes.claims
    for key, token in claimed.items():
        state = token_of(url, key)
        assert state is not None and state[1] == token, (key, state)
        assert state[0] == "done" if key in finished else state[0] in ("processing", "done")
    store.close()
