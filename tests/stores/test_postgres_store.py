"""PostgresStore specifics: one statement per claim, row locks under a barrier, the server's
clock, a claim sent twice, URLs, the schema, connection reuse, and a server restart answered
with 503 and recovered from."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest

from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import InboundRequest
from suno_hooks.media import KeptFile
from suno_hooks.stores import (
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ExpectedTask,
    PostgresStore,
    ReplayCheck,
    TaskState,
    store_from_url,
)
from suno_hooks.stores.postgres._schema import (
    _CLAIM_FUNCTION,
    _CLAIM_INSERTING_FIRST,
    _QUEUE_FUNCTION,
    _QUEUE_INSERTING_FIRST,
    SCHEMA_VERSION,
)
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.postgres import PostgresCluster, PostgresServer, restartable_postgres
from ..support.stores import postgres_schema_url


def delivery(task_id: str, stage: str = "complete", body: bytes = b"{}") -> Delivery:
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=body)


def admin(server: PostgresServer) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=server.name, autocommit=True
    )


def open_connections(server: PostgresServer, application_name: str, *, at_most: int) -> int:
    """How many sessions the server shows for `application_name`, waiting (up to 10 s) for it
    to drop to `at_most`."""
    deadline = time.monotonic() + 10
    with admin(server) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            ).fetchone()
            count = int(row[0]) if row else 0
            if count <= at_most or time.monotonic() > deadline:
                return count
            time.sleep(0.05)


@pytest.fixture
def store(postgres_server: PostgresServer) -> Iterator[PostgresStore]:
    opened = PostgresStore(postgres_schema_url(postgres_server))
    yield opened
    opened.close()


def test_a_claim_is_one_statement(store: PostgresStore, monkeypatch: pytest.MonkeyPatch):
    store.claim(delivery("warm-up"), lease=60)  # creates the schema on first use
    sent: list[str] = []
    real_execute = psycopg.Connection.execute

    def counting_execute(self: psycopg.Connection[Any], query: Any, *args: Any, **kw: Any) -> Any:
        sent.append(str(query))
        return real_execute(self, query, *args, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", counting_execute)
    guard = ReplayCheck("1700000000:sig", b"body", ttl=600)
    assert store.claim(delivery("one-trip"), lease=60, replay=guard).result is ClaimResult.NEW
    assert store.claim(delivery("one-trip"), lease=60, replay=guard).result is (
        ClaimResult.IN_PROGRESS
    )
    assert len(sent) == 2
    assert all("suno_hooks_claim(" in query for query in sent)


def test_concurrent_claims_of_one_key_give_one_owner(store: PostgresStore):
    store.claim(delivery("warm-up"), lease=60)
    workers = 8
    start = threading.Barrier(workers)
    results: list[ClaimResult] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        # Half the threads claim the terminal stage, half a progress stage of the same task.
        stage = "complete" if n % 2 == 0 else "first"
        start.wait()
        result = store.claim(delivery("raced", stage), lease=60).result
        with lock:
            results.append(result)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    counted = Counter(results)
    assert counted[ClaimResult.NEW] in (1, 2)
    assert store.get("raced:complete") is not None
    owners = [d.key for d in store.deliveries(task_id="raced")]
    assert counted[ClaimResult.NEW] == len(owners)
    assert set(counted) <= {ClaimResult.NEW, ClaimResult.IN_PROGRESS, ClaimResult.STALE}


def test_leases_run_on_the_server_clock(store: PostgresStore, monkeypatch: pytest.MonkeyPatch):
    real_time = time.time
    # This host's clock is an hour fast: the lease must not care.
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    first = store.claim(delivery("clock"), lease=0.3)
    assert first.result is ClaimResult.NEW
    assert store.claim(delivery("clock"), lease=60).result is ClaimResult.IN_PROGRESS
    row = store._rows(
        "SELECT extract(epoch FROM lease_until - clock_timestamp())::float8 "
        "FROM suno_hooks_deliveries WHERE key = %s",
        ("clock:complete",),
    )
    assert 0 < row[0][0] <= 0.3
    deadline = real_time() + 5
    while store.claim(delivery("clock"), lease=60).result is ClaimResult.IN_PROGRESS:
        assert real_time() < deadline, "the lease never expired"
        time.sleep(0.05)
    assert store.finish("clock:complete", token=first.token) is False


def test_a_claim_sent_twice_keeps_its_lease(store: PostgresStore, postgres_server: PostgresServer):
    store.claim(delivery("warm-up"), lease=60)
    schema = store._conninfo.split("search_path=")[1].split()[0].strip("'")
    args = ("twice:complete", "twice", "complete", True, "music", 60.0, time.time(), "{}", b"{}")
    with admin(postgres_server) as conn:
        conn.execute(f"SET search_path = {schema}")
        call = "SELECT * FROM suno_hooks_claim(" + ", ".join(["%s"] * 13) + ")"
        params = (*args, "token-a", None, None, None)
        assert conn.execute(call, params).fetchone() == ("new", 1, "token-a")
        # The answer of the first was lost (a timeout); the client sends the same claim again.
        assert conn.execute(call, params).fetchone() == ("new", 1, "token-a")
        other = (*args, "token-b", None, None, None)
        assert conn.execute(call, other).fetchone() == ("in_progress", 0, "")
    assert store.finish("twice:complete", token="token-a") is True


def test_awkward_text_is_kept_not_refused(store: PostgresStore):
    odd = delivery("nul\x00task", stage="first")
    claim = store.claim(odd, lease=60)
    assert claim.result is ClaimResult.NEW
    assert store.finish(odd.key, token=claim.token, error="bad \x00 byte \ud800 here")
    kept = store.get(odd.key)
    assert kept is not None and kept.status is DeliveryStatus.FAILED
    assert kept.error == "bad \ufffd byte ? here"
    assert store.claim(odd, lease=60).result is ClaimResult.NEW


def test_store_from_url_builds_postgres_stores(postgres_server: PostgresServer):
    url = postgres_schema_url(postgres_server)
    for scheme in ("postgresql", "postgres"):
        store = store_from_url(url.replace("postgresql", scheme, 1) + "&retention=3600")
        assert isinstance(store, PostgresStore)
        assert store.retention == 3600
        assert store.claim(delivery(f"url-{scheme}"), lease=60).result is ClaimResult.NEW
        store.close()
    named = PostgresStore("postgresql://app:s3cret@db.example/suno?pool_size=3")
    assert "s3cret" not in repr(named) and "app:***@db.example" in repr(named)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://localhost/db?colour=blue", "Bad PostgreSQL URL"),
        ("postgresql://localhost/db?retention=0", "retention"),
        ("postgres://localhost/db?pool_size=many", "pool_size"),
    ],
)
def test_bad_urls_are_refused_clearly(url: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        store_from_url(url)


def test_schema_is_created_once_and_a_newer_one_refused(postgres_server: PostgresServer):
    url = postgres_schema_url(postgres_server)
    first, second = PostgresStore(url), PostgresStore(url)
    assert first.claim(delivery("schema"), lease=60).result is ClaimResult.NEW
    assert second.claim(delivery("schema"), lease=60).result is ClaimResult.IN_PROGRESS
    assert second._rows("SELECT version FROM suno_hooks_schema", ()) == [(SCHEMA_VERSION,)]
    second._rows("UPDATE suno_hooks_schema SET version = 99", ())
    third = PostgresStore(url)
    with pytest.raises(ConfigurationError, match="newer than this suno-hooks"):
        third.get("schema:complete")
    for store in (first, second, third):
        store.close()


def test_connections_are_reused_and_bounded(postgres_server: PostgresServer):
    name = f"suno-{uuid.uuid4().hex[:12]}"
    url = f"{postgres_schema_url(postgres_server)}&application_name={name}&pool_size=3"
    store = PostgresStore(url)
    workers = 12
    start = threading.Barrier(workers)

    def claim(n: int) -> None:
        start.wait()
        store.claim(delivery(f"churn{n}"), lease=60)

    for _ in range(3):
        threads = [threading.Thread(target=claim, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    # A connection beyond the three kept is closed at once; its server process exits soon after.
    assert open_connections(postgres_server, name, at_most=3) <= 3
    store.close()
    assert open_connections(postgres_server, name, at_most=0) == 0


def test_async_connections_serve_several_event_loops(store: PostgresStore):
    async def claim_and_finish(task_id: str) -> bool:
        claim = await store.aclaim(delivery(task_id), lease=60)
        assert claim.result is ClaimResult.NEW
        assert await store.aextend(f"{task_id}:complete", token=claim.token, lease=120)
        return await store.afinish(f"{task_id}:complete", token=claim.token)

    assert asyncio.run(claim_and_finish("loop-one"))
    assert asyncio.run(claim_and_finish("loop-two"))
    assert len(store._async_idle) == 1
    kept = store.get("loop-two:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with restartable_postgres() as started:
        yield started


@pytest.mark.usefixtures("calls")  # a handler hears it, so the delivery is done
def test_a_restart_answers_503_then_recovers(cluster: PostgresCluster):
    url = postgres_schema_url(cluster.server)
    receiver = unverified_receiver(store=url)

    def post(task_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = encode(make_callback(task_id=task_id))
        outcome = receiver.handle(InboundRequest("POST", body))
        return outcome.status, outcome.body, outcome.headers

    async def apost(task_id: str) -> int:
        body = encode(make_callback(task_id=task_id))
        return (await receiver.handle_async(InboundRequest("POST", body))).status

    assert post("before")[:2] == (200, {"status": "received"})
    assert asyncio.run(apost("before-async")) == 200
    cluster.stop()
    status, answer, headers = post("during")
    assert (status, answer["error"]) == (503, "store_unavailable")
    assert "retry-after" in {name.lower() for name in headers}
    assert asyncio.run(apost("during-async")) == 503
    cluster.start()
    # The connections kept from before the restart are dead; the next request replaces them.
    assert post("during")[:2] == (200, {"status": "received"})
    assert asyncio.run(apost("during-async")) == 200
    assert post("during")[:2] == (200, {"status": "duplicate"})
    keys = {d.key for d in receiver.store.deliveries()}
    assert keys == {
        "before:complete",
        "before-async:complete",
        "during:complete",
        "during-async:complete",
    }
    receiver.store.close()


def test_a_version_1_schema_whose_tasks_table_exists_migrates(postgres_server: PostgresServer):
    # Stores of schema version 1 created the expected-task table on first use.
    url = postgres_schema_url(postgres_server)
    first = PostgresStore(url)
    first.expect(ExpectedTask("migrated", "generate"))
    first._rows("UPDATE suno_hooks_schema SET version = 1", ())
    second = PostgresStore(url)
    task = second.get_task("migrated")
    assert task is not None and task.state is TaskState.PENDING
    assert second._rows("SELECT version FROM suno_hooks_schema", ()) == [(SCHEMA_VERSION,)]
    for store in (first, second):
        store.close()


def test_a_version_2_schema_gains_kept_media_in_place(postgres_server: PostgresServer):
    url = postgres_schema_url(postgres_server)
    first = PostgresStore(url)
    claim = first.claim(delivery("old"), lease=60)
    assert first.finish("old:complete", token=claim.token)
    first._rows("ALTER TABLE suno_hooks_deliveries DROP COLUMN kept", ())
    first._rows("UPDATE suno_hooks_schema SET version = 2", ())
    first.close()
    second = PostgresStore(url)
    assert second.get("old:complete").kept == ()  # type: ignore[union-attr]
    record = KeptFile(
        "old/complete/a.mp3", "a.mp3", "s3://b/a.mp3", 1, "0" * 64, None, datetime.now(timezone.utc)
    )
    assert second.record_kept("old:complete", [record])
    done = second.get("old:complete")
    assert done is not None and done.status is DeliveryStatus.DONE and done.kept == (record,)
    assert second._rows("SELECT version FROM suno_hooks_schema", ()) == [(SCHEMA_VERSION,)]
    second.close()


def _answers_of_a_claim_sequence(store: PostgresStore, task: str) -> list[ClaimResult]:
    """The answers to one claim of each kind: new, in progress, duplicate, stale, replayed, a
    progress stage before its task ends, and the take-over of a failed delivery."""
    answers = []
    first = store.claim(delivery(task, "first"), lease=60)
    answers.append(first.result)
    answers.append(store.claim(delivery(task, "first"), lease=60).result)
    assert store.finish(f"{task}:first", token=first.token)
    answers.append(store.claim(delivery(task, "first"), lease=60).result)
    ended = store.claim(delivery(task), lease=60)
    answers.append(ended.result)
    answers.append(store.claim(delivery(task, "text"), lease=60).result)
    guard = ReplayCheck(f"1700000000:{task}", b"one body", ttl=600)
    other = ReplayCheck(f"1700000000:{task}", b"another body", ttl=600)
    answers.append(store.claim(delivery(f"{task}-g"), lease=60, replay=guard).result)
    answers.append(store.claim(delivery(f"{task}-h"), lease=60, replay=other).result)
    assert store.finish(f"{task}:complete", token=ended.token, error="boom")
    taken = store.claim(delivery(task), lease=60)
    assert taken.attempts == 2
    answers.append(taken.result)
    return answers


def _answers_of_a_queue_sequence(store: PostgresStore, task: str) -> list[ClaimResult]:
    """The answers to one queueing of each kind: new, in progress, duplicate, stale, replayed,
    and a terminal stage."""
    answers = [store.queue(delivery(task, "first")).result]
    answers.append(store.queue(delivery(task, "first")).result)
    taken = store.claim(delivery(task, "first"), lease=60)
    assert taken.result is ClaimResult.NEW
    assert store.finish(f"{task}:first", token=taken.token)
    answers.append(store.queue(delivery(task, "first")).result)
    answers.append(store.queue(delivery(task)).result)
    answers.append(store.queue(delivery(task, "text")).result)
    guard = ReplayCheck(f"1700000000:{task}", b"one body", ttl=600)
    other = ReplayCheck(f"1700000000:{task}", b"another body", ttl=600)
    answers.append(store.queue(delivery(f"{task}-g"), replay=guard).result)
    answers.append(store.queue(delivery(f"{task}-h"), replay=other).result)
    return answers


_NEW, _BUSY, _DONE = ClaimResult.NEW, ClaimResult.IN_PROGRESS, ClaimResult.DUPLICATE
_STALE, _REPLAYED = ClaimResult.STALE, ClaimResult.REPLAYED


@pytest.mark.parametrize(
    ("function", "older", "newer", "since", "sequence", "expected"),
    [
        (
            "suno_hooks_claim",
            _CLAIM_FUNCTION,
            _CLAIM_INSERTING_FIRST,
            5,
            _answers_of_a_claim_sequence,
            [_NEW, _BUSY, _DONE, _NEW, _STALE, _NEW, _REPLAYED, _NEW],
        ),
        (
            "suno_hooks_queue",
            _QUEUE_FUNCTION,
            _QUEUE_INSERTING_FIRST,
            6,
            _answers_of_a_queue_sequence,
            [_NEW, _BUSY, _DONE, _NEW, _STALE, _NEW, _REPLAYED],
        ),
    ],
    ids=["claim", "queue"],
)
def test_a_function_that_looked_keys_up_first_is_replaced_and_answers_the_same(
    postgres_server: PostgresServer,
    function: str,
    older: str,
    newer: str,
    since: int,
    sequence: Callable[[PostgresStore, str], list[ClaimResult]],
    expected: list[ClaimResult],
):
    url = postgres_schema_url(postgres_server)
    store = PostgresStore(url)
    now = sequence(store, "inserting-first")
    store._rows(older, ())  # the function as the versions before `since` have it
    store._rows("UPDATE suno_hooks_schema SET version = %s", (since - 1,))
    before = sequence(store, "looking-up-first")
    store.close()
    assert now == before == expected
    migrated = PostgresStore(url)
    migrated.get("warm:complete")
    assert migrated._rows("SELECT version FROM suno_hooks_schema", ()) == [(SCHEMA_VERSION,)]
    source = migrated._rows(
        "SELECT prosrc FROM pg_proc WHERE proname = %s "
        "AND pronamespace = current_schema()::regnamespace",
        (function,),
    )
    assert [text for (text,) in source] == [newer.split("$fn$")[1]]
    migrated.close()
