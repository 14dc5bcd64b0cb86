"""The ORM store's finish on SQLite and PostgreSQL: the delivery's `done` or `failed` mark and
its expected task's settle are one parameterised `UPDATE` each, sent through the connection's
cursor, and they store what the ORM's `update()` (the path of every other database) stores,
under the same conditions: the lease token for the mark, a pending task for the settle."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from suno_hooks import Receiver
from suno_hooks.contrib.django import signals
from suno_hooks.contrib.django import store as store_module
from suno_hooks.contrib.django import tasks as tasks_module
from suno_hooks.contrib.django.dispatcher import DjangoDispatcher
from suno_hooks.contrib.django.models import Delivery as DeliveryRow
from suno_hooks.contrib.django.models import ExpectedTask as TaskRow
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.stores import ClaimResult
from suno_hooks.stores.tasks import ExpectedTask, TaskState
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from .test_django_claim_sql import delivery, raw_rows

NOW = 1_800_000_000.25
LONG_ERROR = "boom\x00 " + "\u00e9" * 5000


def through_the_orm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The finish and the settle as other databases write them, with the ORM's `update()`."""
    for module in (store_module, tasks_module):
        monkeypatch.setattr(module, "updates_directly", lambda connection: False)


@pytest.fixture(params=["direct", "orm"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The updates through the connection's cursor, then through the ORM."""
    if request.param == "orm":
        through_the_orm(monkeypatch)
    return str(request.param)


def shape(sql: str) -> str:
    """A statement's verb and, for a write, its table: `UPDATE suno_hooks_delivery`."""
    verb = sql.split()[0]
    if verb not in ("INSERT", "UPDATE", "DELETE"):
        return verb
    return f"{verb} {sql.split(chr(34))[1]}"


def claimed(store: DjangoStore, task_id: str = "t1", now: float | None = None) -> str:
    """Expect the task `task_id` (submitted `now`) and claim its `complete` delivery: the lease
    token."""
    assert store.expect(ExpectedTask.submitted(task_id, "generate", now=now))
    claim = store.claim(delivery(task_id), lease=60)
    assert claim.result is ClaimResult.NEW
    return claim.token


def state(store: DjangoStore) -> dict[str, Any]:
    """Every delivery and expected task row as the database holds it."""
    return {
        "delivery": raw_rows(store.using, DeliveryRow, ignore=("id",)),
        "task": raw_rows(store.using, TaskRow),
    }


@pytest.mark.parametrize("driver", ["receiver", "finish_settling"])
def test_one_delivery_ends_with_one_update_for_the_mark_and_one_for_the_task(
    orm_store: DjangoStore, path: str, driver: str
):
    using = orm_store.using
    task_id = uuid.uuid4().hex
    if driver == "receiver":
        with CaptureQueriesContext(connections[using]) as captured:
            ends_through_the_receiver(orm_store, task_id)
    else:
        token = claimed(orm_store, task_id)
        with CaptureQueriesContext(connections[using]) as captured, transaction.atomic(using=using):
            Group.objects.using(using).create(name=task_id)
            assert orm_store.finish_settling(
                f"{task_id}:complete", token=token, error=None, task_id=task_id, by="callback"
            )
    sent = [str(query["sql"]) for query in captured.captured_queries]
    begin = max(n for n, sql in enumerate(sent) if sql.startswith("BEGIN"))
    receivers = [shape(sql) for sql in sent[begin:]]
    assert receivers == [
        "BEGIN",
        "INSERT auth_group",
        "UPDATE suno_hooks_delivery",
        "UPDATE suno_hooks_expectedtask",
        "COMMIT",
    ]
    row = DeliveryRow.objects.using(using).get(key=f"{task_id}:complete")
    assert (row.status, row.error, row.lease_until, row.lease_expires) == ("done", None, None, None)
    task = orm_store.get_task(task_id)
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "callback")
    if path == "direct":
        updates = [sql for sql in sent if sql.startswith("UPDATE")]
        # The WHERE of the statements sent through the cursor names bare columns.
        assert all('."' not in sql.partition(" WHERE ")[2] for sql in updates[-2:])


def ends_through_the_receiver(store: DjangoStore, task_id: str) -> None:
    """A signed `complete` callback of `task_id` through a receiver on `store`, whose one
    Django receiver saves a row in the store's database."""
    assert store.expect(ExpectedTask.submitted(task_id, "generate"))

    def save(sender: Any, event: Any, **kwargs: Any) -> None:
        Group.objects.using(store.using).create(name=event.task_id)

    raw = encode(make_callback(task_id=task_id))
    request = InboundRequest("POST", raw, Headers.of(sign_headers(raw, HMAC_KEY)), peer="1.2.3.4")
    receiver = Receiver(
        hmac_keys=[HMAC_KEY], store=store, dispatcher=DjangoDispatcher(using=store.using)
    )
    signals.task_completed.connect(save, weak=False)
    try:
        assert receiver.handle(request).body == {"status": "received"}
    finally:
        signals.task_completed.disconnect(save)


def ended(store: DjangoStore, error: str | None) -> dict[str, Any]:
    """What a claim, the finish of its delivery with `error` and its task's settle, a second
    task given up, leave in the tables."""
    for model in (DeliveryRow, TaskRow):
        model.objects.using(store.using).all().delete()
    token = claimed(store, now=NOW)
    assert store.finish_settling("t1:complete", token=token, error=error, task_id="t1", by="poll")
    assert store.expect(ExpectedTask.submitted("t2", "generate", now=NOW))
    assert store.mark_lost("t2")
    return state(store)


@pytest.mark.parametrize("error", [None, LONG_ERROR], ids=["done", "failed"])
def test_rows_are_written_as_the_orm_writes_them(
    orm_store: DjangoStore, monkeypatch: pytest.MonkeyPatch, error: str | None
):
    clock = SimpleNamespace(time=lambda: NOW)
    monkeypatch.setattr(store_module, "time", clock)
    monkeypatch.setattr(tasks_module, "time", clock)
    monkeypatch.setattr(store_module, "new_token", lambda: "f" * 24)
    direct = ended(orm_store, error)
    through_the_orm(monkeypatch)
    orm = ended(orm_store, error)
    assert direct == orm
    kept = orm_store.get("t1:complete")
    assert kept is not None and kept.updated_at == NOW
    assert kept.error == (None if error is None else ("boom\ufffd " + "\u00e9" * 5000)[:4000])
    task, lost = orm_store.get_task("t1"), orm_store.get_task("t2")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "poll")
    assert lost is not None and (lost.state, lost.settled_by) == (TaskState.LOST, "timeout")


@pytest.mark.usefixtures("path")
def test_a_lost_token_changes_nothing(orm_store: DjangoStore):
    token = claimed(orm_store)
    before = state(orm_store)
    with CaptureQueriesContext(connections[orm_store.using]) as captured:
        assert not orm_store.finish("t1:complete", token="0" * 24)
        assert not orm_store.finish_settling(
            "t1:complete", token="0" * 24, error="boom", task_id="t1", by="callback"
        )
        assert not orm_store.finish("t1:other", token=token)
    # No settle follows a finish that changed nothing.
    mark = "UPDATE suno_hooks_delivery"
    assert [shape(query["sql"]) for query in captured.captured_queries] == [
        *(mark, "BEGIN", mark, "COMMIT", mark)
    ]
    assert state(orm_store) == before
    assert orm_store.finish("t1:complete", token=token, error="boom")
    assert not orm_store.finish("t1:complete", token="", error=None)
    # A claim taking the failed delivery again gives it a new token: the old one owns nothing.
    assert orm_store.claim(delivery(), lease=60).result is ClaimResult.NEW
    after = state(orm_store)
    assert not orm_store.finish("t1:complete", token=token)
    assert state(orm_store) == after


@pytest.mark.usefixtures("path")
def test_a_settled_or_lost_task_is_not_settled_again(orm_store: DjangoStore):
    for task_id in ("settled", "lost"):
        assert orm_store.expect(ExpectedTask.submitted(task_id, "generate"))
    assert orm_store.settle("settled", by="callback")
    assert orm_store.mark_lost("lost")
    before = state(orm_store)
    for task_id in ("settled", "lost", "unknown"):
        assert not orm_store.settle(task_id, by="poll")
        assert not orm_store.mark_lost(task_id)
    assert state(orm_store) == before
    settled, lost = orm_store.get_task("settled"), orm_store.get_task("lost")
    assert settled is not None and (settled.state, settled.settled_by) == (
        TaskState.SETTLED,
        "callback",
    )
    assert lost is not None and (lost.state, lost.settled_by) == (TaskState.LOST, "timeout")
    # A finish whose task is no longer pending still records the delivery, and leaves the task.
    token = claimed(orm_store, "t9")
    assert orm_store.mark_lost("t9")
    assert orm_store.finish_settling(
        "t9:complete", token=token, error=None, task_id="t9", by="callback"
    )
    task = orm_store.get_task("t9")
    assert task is not None and task.state is TaskState.LOST
    row = orm_store.get("t9:complete")
    assert row is not None and row.status.value == "done"
