"""The `done` mark commits with the handlers' writes: on the ORM store's own database (SQLite
and PostgreSQL), through the sync and the async driver, a delivery's receivers' rows, its
`done` mark and its expected task's settling are one transaction, one commit fewer than when
the outcome is recorded apart; when the mark cannot be written (its lease was taken over, the
database refused it) the receivers' rows are rolled back with it, so a handler's effects stand
exactly once. A failing receiver, and receivers on another database, behave as before."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group
from django.db import OperationalError, connections
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from suno_hooks import Receiver
from suno_hooks._pipeline.dispatch import Dispatcher
from suno_hooks.contrib.django import signals
from suno_hooks.contrib.django.dispatcher import DjangoDispatcher
from suno_hooks.contrib.django.models import Delivery as DeliveryRow
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.outcome import Outcome
from suno_hooks.stores import MemoryStore
from suno_hooks.stores.tasks import ExpectedTask, TaskState
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from ..support.django_commits import FinishApart, Transaction, committed, transactions

DRIVERS = ["sync", "async"]


class Orders:
    """A receiver of `task_completed` that saves a row per run, as a project saves its order
    (a `Group` named after the task and the run); `during`, when given, runs in the first run
    before its row is saved."""

    def __init__(self, using: str, during: Callable[[], None] | None = None) -> None:
        self.using = using
        self.during = during
        self.runs = 0

    def __call__(self, sender: Any, event: Any, **kwargs: Any) -> None:
        run = self.runs
        self.runs += 1
        if run == 0 and self.during is not None:
            self.during()
        Group.objects.using(self.using).create(name=f"{event.task_id}-{run}")

    def saved(self, task_id: str) -> list[str]:
        """The rows that stand for `task_id`, by name."""
        rows = Group.objects.using(self.using).filter(name__startswith=f"{task_id}-")
        return sorted(rows.values_list("name", flat=True))


@contextmanager
def connected(*receivers: Callable[..., Any]) -> Iterator[None]:
    """`receivers` connected to Django's `task_completed` for the duration."""
    for receiver in receivers:
        signals.task_completed.connect(receiver, weak=False)
    try:
        yield
    finally:
        for receiver in receivers:
            signals.task_completed.disconnect(receiver)


def receiver_on(store: Any, dispatcher: Dispatcher | None = None) -> Receiver:
    """A receiver of signed callbacks on `store`, its receivers' transaction on the store's
    database unless `dispatcher` says otherwise."""
    chosen = DjangoDispatcher(using=store.using) if dispatcher is None else dispatcher
    return Receiver(hmac_keys=[HMAC_KEY], store=store, dispatcher=chosen)


def signed_body(task_id: str) -> tuple[bytes, dict[str, str]]:
    """A `complete` callback of `task_id` and Kie's headers for it."""
    raw = encode(make_callback(task_id=task_id))
    return raw, sign_headers(raw, HMAC_KEY)


def signed(task_id: str) -> InboundRequest:
    """A signed `complete` callback of `task_id`, as Kie posts it."""
    raw, headers = signed_body(task_id)
    return InboundRequest("POST", raw, Headers.of(headers), peer="127.0.0.1")


def answer(receiver: Receiver, request: InboundRequest, driver: str) -> Outcome:
    """The receiver's answer through the blocking driver, or the awaiting one (from this
    thread, as an async Django view runs it)."""
    if driver == "sync":
        return receiver.handle(request)
    return async_to_sync(receiver.ahandle)(request)


def kept(store: DjangoStore, task_id: str) -> DeliveryRow:
    """The inbox row of the task's `complete` delivery."""
    row: DeliveryRow = DeliveryRow.objects.using(store.using).get(key=f"{task_id}:complete")
    return row


def new_task() -> str:
    """A fresh task id."""
    return uuid.uuid4().hex


def the_one_writing(found: list[Transaction], table: str) -> Transaction:
    """The only transaction of `found` that writes `table`."""
    [writing] = [transaction for transaction in found if transaction.writes(table)]
    return writing


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_handlers_row_the_done_mark_and_the_settling_commit_in_one_transaction(
    orm_store: DjangoStore, driver: str
) -> None:
    using = orm_store.using
    orders = Orders(using)
    joined_task, apart_task = new_task(), new_task()
    for task_id in (joined_task, apart_task):
        assert orm_store.expect(ExpectedTask.submitted(task_id, "generate"))
    apart = receiver_on(orm_store, FinishApart(DjangoDispatcher(using=using)))
    with connected(orders):
        with CaptureQueriesContext(connections[using]) as joined_queries:
            joined_answer = answer(receiver_on(orm_store), signed(joined_task), driver)
        with CaptureQueriesContext(connections[using]) as apart_queries:
            apart_answer = answer(apart, signed(apart_task), driver)

    assert joined_answer.body == apart_answer.body == {"status": "received"}
    joined = committed(joined_queries.captured_queries)
    before = committed(apart_queries.captured_queries)
    assert len(joined) == len(before) - 1
    # Recorded apart, the receivers' row commits first and the done mark after it, alone...
    effects_apart = the_one_writing(before, "auth_group")
    assert not effects_apart.writes("suno_hooks_delivery")
    # ...where now the row, the done mark and the settling are the same commit.
    effects = the_one_writing(joined, "auth_group")
    assert effects.end == "COMMIT"
    assert effects.writes("suno_hooks_delivery") and effects.writes("suno_hooks_expectedtask")
    assert [t for t in joined if t.writes("suno_hooks_delivery")][-1] is effects
    for task_id in (joined_task, apart_task):
        row = kept(orm_store, task_id)
        assert (row.status, row.attempts, row.error) == ("done", 1, None)
        task = orm_store.get_task(task_id)
        assert task is not None and task.state is TaskState.SETTLED
    assert orders.saved(joined_task) == [f"{joined_task}-0"]
    assert orders.saved(apart_task) == [f"{apart_task}-1"]


@pytest.mark.parametrize("path", ["/suno/callback", "/suno-async/callback"])
def test_the_views_commit_the_done_mark_with_the_handlers_writes(
    orm_store: DjangoStore, path: str
) -> None:
    using = orm_store.using
    orders = Orders(using)
    task_id = new_task()
    raw, headers = signed_body(task_id)
    content_type = headers.pop("Content-Type")
    settings = {"HMAC_KEYS": [HMAC_KEY], "STORE": f"django://?using={using}"}

    async def post_async() -> Any:
        return await AsyncClient().generic(
            "POST", path, raw, content_type=content_type, headers=headers
        )

    with (
        override_settings(SUNO_HOOKS=settings),
        connected(orders),
        CaptureQueriesContext(connections[using]) as queries,
    ):
        if path.startswith("/suno-async"):
            response = async_to_sync(post_async)()
        else:
            response = Client().generic(
                "POST", path, raw, content_type=content_type, headers=headers
            )
    assert response.json() == {"status": "received"}
    found = committed(queries.captured_queries)
    effects = the_one_writing(found, "auth_group")
    assert effects.end == "COMMIT" and effects.writes("suno_hooks_delivery")
    # One commit for the claim, one for the receivers' row with the done mark.
    assert len(found) == 2
    assert kept(orm_store, task_id).status == "done"
    assert orders.saved(task_id) == [f"{task_id}-0"]


def touch_nothing(sender: Any, event: Any, **kwargs: Any) -> None:
    """A receiver that does no database work."""


def reader(using: str) -> Callable[..., None]:
    """A receiver that only reads the orders of its task."""

    def read(sender: Any, event: Any, **kwargs: Any) -> None:
        Group.objects.using(using).filter(name__startswith=f"{event.task_id}-").count()

    return read


def joined_and_apart(
    store: DjangoStore, driver: str
) -> tuple[list[Transaction], list[Transaction]]:
    """The transactions of one callback answered with the done mark handed to the Django
    dispatcher, then of another with it recorded apart."""
    using = store.using
    found = []
    for dispatcher in (DjangoDispatcher(using=using), FinishApart(DjangoDispatcher(using=using))):
        task_id = new_task()
        with CaptureQueriesContext(connections[using]) as queries:
            outcome = answer(receiver_on(store, dispatcher), signed(task_id), driver)
        assert outcome.body == {"status": "received"}
        assert kept(store, task_id).status == "done"
        found.append(transactions(queries.captured_queries))
    return found[0], found[1]


@pytest.mark.parametrize("driver", DRIVERS)
def test_receivers_that_do_no_database_work_leave_the_done_mark_on_its_own(
    orm_store: DjangoStore, driver: str
) -> None:
    """Nothing to commit with the mark: it is written after the receivers' transaction, in
    the store's own, as before (on PostgreSQL that keeps it one round trip's worth of work)."""
    with connected(touch_nothing):
        joined, apart = joined_and_apart(orm_store, driver)
    assert [t.shape() for t in joined] == [t.shape() for t in apart]
    assert joined[-1].writes("suno_hooks_delivery")


@pytest.mark.parametrize("driver", DRIVERS)
def test_receivers_that_only_read_leave_the_mark_apart_on_sqlite_and_join_it_on_postgresql(
    orm_store: DjangoStore, driver: str
) -> None:
    """SQLite would have to upgrade the readers' lock to write the mark, which it refuses at
    once while another connection writes: the mark is written on its own, as before. On
    PostgreSQL the transaction is open already, and the mark joins it."""
    with connected(reader(orm_store.using)):
        joined, apart = joined_and_apart(orm_store, driver)
    committed_joined = [t for t in joined if t.committed]
    assert len(committed_joined) == len([t for t in apart if t.committed])
    [receivers] = [t for t in joined if any('FROM "auth_group"' in sql for sql in t.statements)]
    if connections[orm_store.using].vendor == "sqlite":
        assert [t.shape() for t in joined] == [t.shape() for t in apart]
        assert not receivers.writes("suno_hooks_delivery")
    else:
        assert receivers.writes("suno_hooks_delivery") and receivers.end == "COMMIT"


def taken_over(using: str, task_id: str) -> Callable[[], None]:
    """While the first run's handlers work, its lease ends and another process (a thread with
    its own connection) claims the delivery, runs it and marks it done."""

    def take_over() -> None:
        try:
            rows = DeliveryRow.objects.using(using).filter(key=f"{task_id}:complete")
            rows.update(lease_expires=time.time() - 1)
            other = receiver_on(DjangoStore(using=using))
            results.append(other.handle(signed(task_id)))
        finally:
            connections.close_all()

    results: list[Outcome] = []

    def during() -> None:
        thread = threading.Thread(target=take_over)
        thread.start()
        thread.join()
        assert [outcome.body for outcome in results] == [{"status": "received"}]

    return during


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_lease_taken_over_rolls_the_handlers_writes_back_with_the_done_mark(
    orm_store: DjangoStore, driver: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The first run's done mark finds another claim's token: its row is rolled back with the
    mark, the answer is 409 (the claim that took the delivery over ran it), and the task's
    order is saved once, by that claim; the sender's retry is a duplicate."""
    task_id = new_task()
    receiver = receiver_on(orm_store)
    orders = Orders(orm_store.using, during=taken_over(orm_store.using, task_id))
    with connected(orders):
        outcome = answer(receiver, signed(task_id), driver)
        retry = answer(receiver, signed(task_id), driver)
    assert (outcome.status, outcome.body["error"]) == (409, "in_progress")
    assert orders.runs == 2
    assert orders.saved(task_id) == [f"{task_id}-1"]
    row = kept(orm_store, task_id)
    assert (row.status, row.attempts) == ("done", 2)
    assert retry.body == {"status": "duplicate"}
    assert "was taken over before its outcome was recorded" in caplog.text


def test_after_an_early_answer_a_lease_taken_over_is_left_to_the_claim_that_took_it(
    orm_store: DjangoStore,
) -> None:
    """`aacknowledge` answers first and runs the receivers after: the lease lost meanwhile
    rolls their row back there too, quietly, and the order is saved once, by the other claim."""
    task_id = new_task()
    receiver = receiver_on(orm_store)
    orders = Orders(orm_store.using, during=taken_over(orm_store.using, task_id))

    async def acknowledge_then_run() -> Outcome:
        early, later = await receiver.aacknowledge(signed(task_id))
        assert later is not None
        await later()
        return early

    with connected(orders):
        early = async_to_sync(acknowledge_then_run)()
    assert early.body == {"status": "received"}
    assert orders.saved(task_id) == [f"{task_id}-1"]
    assert (kept(orm_store, task_id).status, kept(orm_store, task_id).attempts) == ("done", 2)


def failing_done_marks(*, all_writes: bool) -> Callable[..., Any]:
    """An execute wrapper under which the inbox's `done` mark fails as a lost connection would
    (with `all_writes`, every write of a delivery's outcome)."""

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if sql.startswith('UPDATE "suno_hooks_delivery"') and (all_writes or "done" in params):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_done_mark_the_database_refuses_rolls_the_handlers_writes_back(
    orm_store: DjangoStore, driver: str
) -> None:
    """The mark fails after the row was written: the row is rolled back with it, the delivery
    is kept as failed (recorded in the store's own transaction) and answered as a handler's
    failure is; the redelivery runs it again, and the order is saved once."""
    task_id = new_task()
    receiver = receiver_on(orm_store)
    orders = Orders(orm_store.using)
    with connected(orders):
        with connections[orm_store.using].execute_wrapper(failing_done_marks(all_writes=False)):
            outcome = answer(receiver, signed(task_id), driver)
        failed = kept(orm_store, task_id)
        saved_then = orders.saved(task_id)
        retry = answer(receiver, signed(task_id), driver)
    assert outcome.body == {"status": "received"}
    assert saved_then == []
    assert failed.status == "failed"
    assert "DjangoDispatcher.transaction: OperationalError" in (failed.error or "")
    assert retry.body == {"status": "received"}
    row = kept(orm_store, task_id)
    assert (row.status, row.attempts, row.error) == ("done", 2, None)
    assert orders.saved(task_id) == [f"{task_id}-1"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_outcome_that_cannot_be_written_leaves_nothing_applied_and_the_delivery_held(
    orm_store: DjangoStore, driver: str
) -> None:
    """No outcome can be written at all (as when the process dies before the commit): the row
    is rolled back, the answer is 503 and the delivery stays `processing` under its lease; once
    the lease ends the sender's retry runs it, and the order is saved once."""
    task_id = new_task()
    receiver = receiver_on(orm_store)
    orders = Orders(orm_store.using)
    with connected(orders):
        with connections[orm_store.using].execute_wrapper(failing_done_marks(all_writes=True)):
            outcome = answer(receiver, signed(task_id), driver)
        held = kept(orm_store, task_id)
        saved_then = orders.saved(task_id)
        early = answer(receiver, signed(task_id), driver)
        rows = DeliveryRow.objects.using(orm_store.using).filter(key=held.key)
        rows.update(lease_expires=time.time() - 1)  # the lease ends
        retry = answer(receiver, signed(task_id), driver)
    assert (outcome.status, outcome.body["error"]) == (503, "store_unavailable")
    assert saved_then == []
    assert (held.status, held.attempts) == ("processing", 1)
    assert (early.status, early.body["error"]) == (409, "in_progress")
    assert retry.body == {"status": "received"}
    row = kept(orm_store, task_id)
    assert (row.status, row.attempts) == ("done", 2)
    assert orders.saved(task_id) == [f"{task_id}-1"]


def refuse(sender: Any, event: Any, **kwargs: Any) -> None:
    """A receiver that fails."""
    raise RuntimeError("warehouse offline")


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failing_receiver_commits_nothing_and_is_kept_failed_as_before(
    orm_store: DjangoStore, driver: str
) -> None:
    using = orm_store.using
    orders = Orders(using)
    joined_task, apart_task = new_task(), new_task()
    apart = receiver_on(orm_store, FinishApart(DjangoDispatcher(using=using)))
    with connected(orders, refuse):
        with CaptureQueriesContext(connections[using]) as joined_queries:
            joined_answer = answer(receiver_on(orm_store), signed(joined_task), driver)
        with CaptureQueriesContext(connections[using]) as apart_queries:
            apart_answer = answer(apart, signed(apart_task), driver)
    assert joined_answer.body == apart_answer.body == {"status": "received"}
    shapes = [t.shape() for t in transactions(joined_queries.captured_queries)]
    assert shapes == [t.shape() for t in transactions(apart_queries.captured_queries)]
    effects = the_one_writing(transactions(joined_queries.captured_queries), "auth_group")
    assert effects.end == "ROLLBACK" and not effects.writes("suno_hooks_delivery")
    for task_id in (joined_task, apart_task):
        row = kept(orm_store, task_id)
        assert (row.status, row.attempts) == ("failed", 1)
        assert "refuse: RuntimeError: warehouse offline" in (row.error or "")
        assert orders.saved(task_id) == []


def shapes_of(
    receiver: Receiver, task_id: str, driver: str, databases: tuple[str, ...]
) -> list[list[tuple[str, tuple[str, ...]]]]:
    """Answer the task's callback; the shapes of the transactions each database saw."""
    with (
        CaptureQueriesContext(connections[databases[0]]) as first,
        CaptureQueriesContext(connections[databases[1]]) as second,
    ):
        assert answer(receiver, signed(task_id), driver).body == {"status": "received"}
    return [[t.shape() for t in transactions(q.captured_queries)] for q in (first, second)]


@pytest.mark.parametrize("kind", ["django_postgres"], indirect=True)
@pytest.mark.parametrize("driver", DRIVERS)
def test_receivers_on_another_database_record_the_outcome_apart_as_before(
    orm_store: DjangoStore, driver: str
) -> None:
    """The receivers' transaction on the SQLite `default`, the store on PostgreSQL or in
    memory: each database sees the same transactions as when the outcome is recorded apart,
    and the receivers' row commits without the done mark."""
    databases = ("default", orm_store.using)
    orders = Orders("default")
    runs: list[tuple[Any, list[tuple[str, Any]]]] = []
    with connected(orders):
        for store in (orm_store, MemoryStore()):
            both = []
            for dispatcher in (
                DjangoDispatcher(using="default"),
                FinishApart(DjangoDispatcher(using="default")),
            ):
                task_id = new_task()
                shapes = shapes_of(receiver_on(store, dispatcher), task_id, driver, databases)
                both.append((task_id, shapes))
            runs.append((store, both))
    for store, [(joined_task, joined), (apart_task, apart)] in runs:
        assert joined == apart
        receivers_side = joined[0]
        assert ("COMMIT", ("auth_group",)) in receivers_side
        assert all("suno_hooks_delivery" not in tables for _, tables in receivers_side)
        for task_id in (joined_task, apart_task):
            kept_now = store.get(f"{task_id}:complete")
            assert kept_now is not None and kept_now.status.value == "done"
            assert len(orders.saved(task_id)) == 1
    assert orders.runs == 4
