"""The ORM store's claim on SQLite and PostgreSQL: a new delivery is recorded with `INSERT ... ON
CONFLICT DO NOTHING` statements and no savepoint, its rows read back as the ORM's insert (the
path of every other database) writes them, and a row already there is locked and read as
before: the answers are the same on both paths."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks.contrib.django import store as store_module
from suno_hooks.contrib.django._claim_sql import db_value
from suno_hooks.contrib.django.models import Delivery as DeliveryRow
from suno_hooks.contrib.django.models import SeenSignature, TerminalTask
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.stores import ClaimResult, Delivery, DeliveryStatus, ReplayCheck

NOW = 1_800_000_000.25
CLOCK = "SELECT EXTRACT(EPOCH FROM clock_timestamp())"


@pytest.fixture(params=["on_conflict", "orm"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The claim's inserts as `ON CONFLICT DO NOTHING`, then as the ORM's (other databases)."""
    if request.param == "orm":
        monkeypatch.setattr(store_module, "ignores_conflicts", lambda connection: False)
    return str(request.param)


def delivery(task_id: str = "t1", stage: str = "complete", **extra: Any) -> Delivery:
    return Delivery(
        key=f"{task_id}:{stage}",
        task_id=task_id,
        stage=stage,
        body=b'{"code": 200, "msg": "\xc3\xa9"}',
        kind="music",
        context={"user": 1, "name": "Zo\u00eb", "tags": ["a", None, 2.5], "deep": {"x": True}},
        headers={"x-webhook-timestamp": "1700000000", "x-webhook-signature": "abc=="},
        peer="10.0.0.1",
        received_at=1_700_000_000.123456,
        **extra,
    )


def shape(sql: str) -> str:
    """A statement's verb, and for an INSERT or a SELECT its table (the first one) and whether
    it locks: `INSERT delivery`, `SELECT seensignature FOR UPDATE`, `SAVEPOINT`."""
    if sql == CLOCK:
        return "CLOCK"
    verb = sql.split()[0]
    found = re.search(r'(?:INTO|FROM) "suno_hooks_(\w+)"', sql)
    if verb not in ("INSERT", "SELECT") or found is None:
        return verb
    return f"{verb} {found.group(1)}{' FOR UPDATE' if sql.endswith(' FOR UPDATE') else ''}"


def claim_captured(
    store: DjangoStore, item: Delivery, replay: ReplayCheck | None = None
) -> tuple[ClaimResult, list[str], list[str]]:
    """Claim `item`: the answer, the statements' shapes and their SQL."""
    with CaptureQueriesContext(connections[store.using]) as captured:
        result = store.claim(item, lease=60, replay=replay).result
    sql = [query["sql"] for query in captured.captured_queries]
    return result, [shape(statement) for statement in sql], sql


def around(store: DjangoStore, *statements: str) -> list[str]:
    """`statements` in the claim's transaction (after the clock is read on PostgreSQL)."""
    postgresql = connections[store.using].vendor == "postgresql"
    return ["BEGIN", *(["CLOCK"] if postgresql else []), *statements, "COMMIT"]


def locking(store: DjangoStore, table: str) -> str:
    """The read of an existing row: locked where the database locks rows (not on SQLite)."""
    postgresql = connections[store.using].vendor == "postgresql"
    return f"SELECT {table}{' FOR UPDATE' if postgresql else ''}"


@pytest.mark.parametrize("stage", ["complete", "first"])
@pytest.mark.parametrize("guarded", [True, False], ids=["replay-guard", "no-guard"])
def test_a_new_claim_sends_inserts_and_no_savepoint(
    orm_store: DjangoStore, stage: str, guarded: bool
):
    replay = ReplayCheck("1700000000:sig", b"body", ttl=600) if guarded else None
    result, sent, sql = claim_captured(orm_store, delivery(stage=stage), replay)
    assert result is ClaimResult.NEW
    guard = ["INSERT seensignature"] if guarded else []
    ended = ["INSERT terminaltask"] if stage == "complete" else []
    assert sent == around(orm_store, *guard, "INSERT delivery", *ended)
    inserts = [statement for statement in sql if statement.startswith("INSERT")]
    assert all(" ON CONFLICT (" in statement for statement in inserts)
    assert all(statement.endswith(") DO NOTHING") for statement in inserts)
    # A progress delivery's INSERT carries the stale check: not inserted once its task ended.
    assert ["NOT EXISTS" in statement for statement in inserts] == [
        *([False] if guarded else []),
        stage != "complete",
        *([False] if ended else []),
    ]


def test_the_orm_path_still_guards_its_inserts_with_savepoints(
    orm_store: DjangoStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(store_module, "ignores_conflicts", lambda connection: False)
    replay = ReplayCheck("1700000000:sig", b"body", ttl=600)
    result, sent, _ = claim_captured(orm_store, delivery(), replay)
    assert result is ClaimResult.NEW
    assert sent == around(
        orm_store,
        *("SAVEPOINT", "INSERT seensignature", "RELEASE"),
        *("SAVEPOINT", "SAVEPOINT", "INSERT delivery", "RELEASE", "RELEASE"),
        "INSERT terminaltask",
    )


def raw_rows(using: str, model: type[Any], ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every row of `model`'s table as the database holds it: on SQLite each value as its SQL
    literal (`quote()`), which tells '2023-11-14 22:13:20' from '2023-11-14T22:13:20' and text
    from a number or a blob."""
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    names = [field.column for field in meta.local_concrete_fields if field.column not in ignore]
    raw = "quote({})" if connection.vendor == "sqlite" else "{}"
    columns = ", ".join(raw.format(quote(name)) for name in names)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {quote(meta.db_table)}")
        rows = cursor.fetchall()
    return [
        {
            name: bytes(value) if isinstance(value, memoryview) else value
            for name, value in zip(names, row, strict=True)
        }
        for row in rows
    ]


def written(store: DjangoStore, item: Delivery, lease: float | None) -> dict[str, Any]:
    """What one claim (or queue) of `item` with a replay guard leaves in every table."""
    for model in (DeliveryRow, SeenSignature, TerminalTask):
        model.objects.using(store.using).all().delete()
    replay = ReplayCheck("1700000000:sig", b"body", ttl=600)
    if lease is None:
        assert store.queue(item, replay=replay).result is ClaimResult.NEW
    else:
        assert store.claim(item, lease=lease, replay=replay).result is ClaimResult.NEW
    return {
        "delivery": raw_rows(store.using, DeliveryRow, ignore=("id",)),
        "signature": raw_rows(store.using, SeenSignature),
        "terminal": raw_rows(store.using, TerminalTask),
        "read": store.get(item.key),
        "listed": store.deliveries(),
    }


@pytest.mark.parametrize("lease", [60, None], ids=["claim", "queue"])
@pytest.mark.parametrize("stage", ["complete", "first"])
def test_rows_read_back_as_the_orm_writes_them(
    orm_store: DjangoStore, monkeypatch: pytest.MonkeyPatch, stage: str, lease: float | None
):
    monkeypatch.setattr(store_module, "_database_now", lambda using: NOW)
    monkeypatch.setattr(store_module, "new_token", lambda: "f" * 24)
    item = delivery(stage=stage, feature="generate", source="poll")
    fast = written(orm_store, item, lease)
    monkeypatch.setattr(store_module, "ignores_conflicts", lambda connection: False)
    orm = written(orm_store, item, lease)
    assert fast == orm
    read = fast["read"]
    assert (read.context, read.headers, read.source) == (item.context, item.headers, "poll")
    assert (read.received_at, read.updated_at, read.body) == (item.received_at, NOW, item.body)
    assert read.status is (DeliveryStatus.PROCESSING if lease else DeliveryStatus.QUEUED)
    assert len(fast["terminal"]) == (stage == "complete")


@pytest.mark.usefixtures("path")
def test_answers_match_on_both_paths(orm_store: DjangoStore):
    guard = ReplayCheck("1:sig", b"body-a", ttl=600)
    first = orm_store.claim(delivery(), lease=60, replay=guard)
    assert (first.result, first.attempts) == (ClaimResult.NEW, 1) and first.token
    assert orm_store.claim(delivery(), lease=60, replay=guard).result is ClaimResult.IN_PROGRESS
    other_body = ReplayCheck("1:sig", b"body-b", ttl=600)
    assert orm_store.claim(delivery(), lease=60, replay=other_body).result is ClaimResult.REPLAYED
    assert orm_store.finish("t1:complete", token=first.token, error="boom")
    retry = orm_store.claim(delivery(), lease=60, replay=guard)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2) and retry.token != first.token
    assert orm_store.finish("t1:complete", token=retry.token)
    assert orm_store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE
    assert orm_store.claim(delivery(stage="first"), lease=60).result is ClaimResult.STALE
    assert orm_store.get("t1:first") is None
    queued = orm_store.queue(delivery("t2"))
    assert (queued.result, queued.attempts, queued.token) == (ClaimResult.NEW, 0, "")
    assert orm_store.queue(delivery("t2")).result is ClaimResult.IN_PROGRESS
    taken = orm_store.claim(delivery("t2"), lease=60)
    assert (taken.result, taken.attempts) == (ClaimResult.NEW, 1)
    expired = ReplayCheck("2:sig", b"body-a", ttl=-1)
    assert orm_store.claim(delivery("t3"), lease=60, replay=expired).result is ClaimResult.NEW
    again = ReplayCheck("2:sig", b"body-b", ttl=600)
    assert orm_store.claim(delivery("t4"), lease=60, replay=again).result is ClaimResult.NEW


def test_a_kept_signature_and_delivery_are_locked_and_read(orm_store: DjangoStore):
    guard = ReplayCheck("1:sig", b"body", ttl=600)
    assert orm_store.claim(delivery(), lease=60, replay=guard).result is ClaimResult.NEW
    result, sent, _ = claim_captured(orm_store, delivery(), guard)
    assert result is ClaimResult.IN_PROGRESS
    assert sent == around(
        orm_store,
        "INSERT seensignature",
        locking(orm_store, "seensignature"),
        "INSERT delivery",
        locking(orm_store, "delivery"),
    )
    other_body = ReplayCheck("1:sig", b"other", ttl=600)
    result, sent, _ = claim_captured(orm_store, delivery(), other_body)
    assert result is ClaimResult.REPLAYED
    assert sent == around(orm_store, "INSERT seensignature", locking(orm_store, "seensignature"))


def test_a_stale_progress_delivery_is_stale_and_not_kept(orm_store: DjangoStore):
    assert orm_store.claim(delivery(stage="text"), lease=0.001).result is ClaimResult.NEW
    assert orm_store.claim(delivery(), lease=60).result is ClaimResult.NEW
    result, sent, _ = claim_captured(orm_store, delivery(stage="first"))
    assert result is ClaimResult.STALE
    assert orm_store.get("t1:first") is None
    # The INSERT inserted nothing: no row was in its way, so its task had ended.
    assert sent == around(
        orm_store, "INSERT delivery", locking(orm_store, "delivery"), "SELECT terminaltask"
    )
    # A kept progress delivery whose lease ended is not taken over once its task has ended.
    time.sleep(0.01)
    assert orm_store.claim(delivery(stage="text"), lease=60).result is ClaimResult.STALE
    kept = orm_store.get("t1:text")
    assert kept is not None and kept.attempts == 1


def test_a_row_purged_under_the_insert_is_inserted_again(
    orm_store: DjangoStore, monkeypatch: pytest.MonkeyPatch
):
    # As when a purge deletes the row an INSERT met before the row could be locked and read.
    insert_row = store_module.insert_row
    met: list[str] = []

    def purged_once(connection: Any, model: type[Any], values: dict[str, Any], **extra: Any):
        if model in (SeenSignature, DeliveryRow) and model not in met:
            met.append(model)
            return False
        return insert_row(connection, model, values, **extra)

    monkeypatch.setattr(store_module, "insert_row", purged_once)
    guard = ReplayCheck("1:sig", b"body", ttl=600)
    for stage in ("first", "complete"):
        claimed = orm_store.claim(delivery(stage=stage), lease=60, replay=guard)
        assert claimed.result is ClaimResult.NEW
    assert met == [SeenSignature, DeliveryRow]
    assert orm_store.get("t1:first") is not None and orm_store.get("t1:complete") is not None
    assert TerminalTask.objects.using(orm_store.using).filter(task_id="t1").exists()


@pytest.mark.parametrize("kind", ["django_postgres"])
def test_racing_claims_of_one_key_have_one_winner(orm_store: DjangoStore):
    # Django's SQLite test database is in memory and locks tables instead of waiting: the
    # processes of test_django_concurrency race on a SQLite file.
    racers = 6
    start = threading.Barrier(racers)
    answers: list[ClaimResult] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        start.wait()
        try:
            for stage in ("first", "complete"):
                guard = ReplayCheck(f"{stage}:sig", b"body", ttl=600)
                result = orm_store.claim(delivery(stage=stage), lease=60, replay=guard).result
                with lock:
                    answers.append(result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == racers * 2
    assert answers.count(ClaimResult.NEW) == 2, answers
    assert set(answers) <= {ClaimResult.NEW, ClaimResult.IN_PROGRESS, ClaimResult.STALE}


_FIELDS = {
    "char": models.CharField(max_length=10),
    "text": models.TextField(),
    "float": models.FloatField(),
    "integer": models.IntegerField(),
    "positive": models.PositiveIntegerField(),
    "moment": models.DateTimeField(),
    "json": models.JSONField(),
}
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)


# Nothing is written: the store's database only lends its connection's vendor.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(_FIELDS)), value=_VALUES)
def test_db_value_is_what_the_field_would_store(orm_store: DjangoStore, name: str, value: Any):
    """The shortcut for plain text and numbers stores exactly what `get_db_prep_save` does, and
    any other value goes through the field."""
    field, connection = _FIELDS[name], connections[orm_store.using]
    try:
        expected: Any = field.get_db_prep_save(value, connection)
    except (TypeError, ValueError, OverflowError, ValidationError) as exc:
        with pytest.raises(type(exc)):
            db_value(field, value, connection)
        return
    stored = db_value(field, value, connection)
    # psycopg's JSON wrapper has no equality of its own: compare what it wraps.
    assert (type(stored), getattr(stored, "obj", stored)) == (
        type(expected),
        getattr(expected, "obj", expected),
    )
