"""Django with `ATOMIC_REQUESTS=True`, on SQLite and PostgreSQL, through the sync and the async
view: when a receiver hits a database error (or the receivers' COMMIT fails), every receiver's
write of that delivery is rolled back together, and the delivery is kept as failed and
replayable; the replay then runs them all again and their writes stand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from suno_hooks import InsecureReceiverWarning, task_completed
from suno_hooks.contrib.django import signals as django_signals
from suno_hooks.contrib.django.conf import receiver_from_settings
from suno_hooks.contrib.django.models import Delivery as DeliveryRow
from suno_hooks.contrib.django.models import SeenSignature, TerminalTask
from suno_hooks.inbound import InboundRequest
from suno_hooks.testing import encode, make_callback

from ..stores.test_django_concurrency import finish, worker
from ..support.django_worker import FAILURES, WRITERS
from ..support.postgres import running_postgres


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[dict[str, str]]:
    with running_postgres() as server:
        yield server.django_database


def failing_receiver_on(database: dict[str, Any]) -> dict[str, Any]:
    settings = json.dumps({**database, "ATOMIC_REQUESTS": True})
    return json.loads(finish(worker("failing-receiver", settings)))  # type: ignore[no-any-return]


EXPECTED_ERROR = {
    "django": "save_twice: IntegrityError",
    "blinker": "save_twice: IntegrityError",
    "commit": "DjangoDispatcher.transaction: IntegrityError",
}


def assert_kept_as_failed_and_replayable(results: dict[str, Any]) -> None:
    everyone = sorted(WRITERS)
    for view in ("sync", "async"):
        for failure in FAILURES:
            case = f"{view}-{failure}"
            seen = results[case]
            assert (seen["status"], seen["answer"]) == (200, {"status": "received"}), case
            status, error, attempts = seen["kept"]
            assert (status, attempts) == ("failed", 1), case
            assert EXPECTED_ERROR[failure] in error, (case, error)
            first = seen["first"]
            # Every receiver ran on the one connection that held the delivery's transaction...
            assert first["writers"] == everyone and first["in_atomic"] == [True], case
            assert first["threads"] == 1, case
            # ...so one failure rolled back all of their writes, and none of the inbox's.
            assert first["written"] == [], case
            assert seen["replay"] == {"status": "received"}, case
            assert seen["after_replay"] == ["done", 2], case
            replayed = seen["replayed"]
            assert replayed["in_atomic"] == [True] and replayed["threads"] == 1, case
            assert replayed["written"] == everyone, case


def test_atomic_requests_on_sqlite(tmp_path: Path):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "atomic.sqlite3")}
    assert_kept_as_failed_and_replayable(failing_receiver_on(database))


def test_atomic_requests_on_postgresql(postgres_database: dict[str, str]):
    assert_kept_as_failed_and_replayable(failing_receiver_on(postgres_database))


COMPLETED = {"django": django_signals.task_completed, "blinker": task_completed}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("note_on", "fail_on"), [("django", "django"), ("blinker", "blinker"), ("django", "blinker")]
)
def test_inside_an_outer_transaction_a_failing_receiver_rolls_back_only_its_delivery(
    note_on: str, fail_on: str
):
    with pytest.warns(InsecureReceiverWarning):
        receiver = receiver_from_settings({"STORE": "django://", "REQUIRE": "none"})
    note = _receiver(
        lambda event: SeenSignature.objects.create(
            signature_key=f"note-{event.task_id}", body_digest="x", expires_at=timezone.now()
        )
    )
    save_twice = _receiver(
        lambda event: TerminalTask.objects.create(task_id=event.task_id, created_at=timezone.now())
    )
    body = encode(make_callback(task_id="outer1"))
    COMPLETED[note_on].connect(note, weak=False)
    COMPLETED[fail_on].connect(save_twice, weak=False)
    try:
        with transaction.atomic():
            TerminalTask.objects.create(task_id="before", created_at=timezone.now())
            outcome = receiver.handle(InboundRequest("POST", body))
            TerminalTask.objects.create(task_id="after", created_at=timezone.now())
        failed = DeliveryRow.objects.get(key="outer1:complete")
        noted_then = SeenSignature.objects.filter(signature_key="note-outer1").exists()
        COMPLETED[fail_on].disconnect(save_twice)
        with transaction.atomic():
            replayed = receiver.replay("outer1:complete")
    finally:
        COMPLETED[note_on].disconnect(note)
        COMPLETED[fail_on].disconnect(save_twice)
    assert outcome.body == {"status": "received"}
    # The savepoint rolled back the receivers' writes only: the caller's stand, and so does
    # the inbox's record of the failure.
    assert TerminalTask.objects.filter(task_id__in=["before", "after"]).count() == 2
    assert failed.status == "failed"
    assert "IntegrityError" in (failed.error or "")
    assert not noted_then
    assert replayed.body == {"status": "received"}
    kept = DeliveryRow.objects.get(key="outer1:complete")
    assert (kept.status, kept.attempts) == ("done", 2)
    assert SeenSignature.objects.filter(signature_key="note-outer1").count() == 1


def _receiver(body: Any) -> Any:
    def receiver(sender: Any, event: Any, **kwargs: Any) -> None:
        body(event)

    return receiver
