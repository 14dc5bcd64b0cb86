"""Django with `ATOMIC_REQUESTS=True`, on SQLite and PostgreSQL, through the sync and the async
view: a receiver's database error leaves the delivery kept as failed and replayable, and the
other receivers' writes stand (each receiver has its own transaction)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from suno_hooks import task_completed
from suno_hooks.contrib.django import signals as django_signals
from suno_hooks.contrib.django.conf import receiver_from_settings
from suno_hooks.contrib.django.models import Delivery as DeliveryRow
from suno_hooks.contrib.django.models import SeenSignature, TerminalTask
from suno_hooks.inbound import InboundRequest
from suno_hooks.testing import encode, make_callback

from .postgres import running_postgres
from .test_django_concurrency import finish, worker


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[dict[str, str]]:
    with running_postgres() as server:
        yield server.django_database


def failing_receiver_on(database: dict[str, Any]) -> dict[str, Any]:
    settings = json.dumps({**database, "ATOMIC_REQUESTS": True})
    return json.loads(finish(worker("failing-receiver", settings)))  # type: ignore[no-any-return]


def assert_kept_as_failed_and_replayable(results: dict[str, Any]) -> None:
    for view in ("sync", "async"):
        seen = results[view]
        assert (seen["status"], seen["answer"]) == (200, {"status": "received"}), view
        status, error, attempts = seen["kept"]
        assert (status, attempts) == ("failed", 1), view
        assert "save_twice" in error and "IntegrityError" in error, view
        assert seen["note_kept"], view
        assert seen["replay"] == {"status": "received"}, view
        assert seen["after_replay"] == ["done", 2], view


def test_atomic_requests_on_sqlite(tmp_path: Path):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "atomic.sqlite3")}
    assert_kept_as_failed_and_replayable(failing_receiver_on(database))


def test_atomic_requests_on_postgresql(postgres_database: dict[str, str]):
    assert_kept_as_failed_and_replayable(failing_receiver_on(postgres_database))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signals", ["django", "blinker"])
def test_inside_an_outer_transaction_a_failing_receiver_rolls_back_alone(signals: str):
    receiver = receiver_from_settings({"STORE": "django://", "REQUIRE": "none"})
    note = _receiver(
        lambda event: SeenSignature.objects.create(
            signature_key=f"note-{event.task_id}", body_digest="x", expires_at=timezone.now()
        )
    )
    save_twice = _receiver(
        lambda event: TerminalTask.objects.create(task_id=event.task_id, created_at=timezone.now())
    )
    signal = django_signals.task_completed if signals == "django" else task_completed
    body = encode(make_callback(task_id="outer1"))
    signal.connect(note, weak=False)
    signal.connect(save_twice, weak=False)
    try:
        with transaction.atomic():
            outcome = receiver.handle(InboundRequest("POST", body))
    finally:
        signal.disconnect(note)
        signal.disconnect(save_twice)
    assert outcome.body == {"status": "received"}
    kept = DeliveryRow.objects.get(key="outer1:complete")
    assert kept.status == "failed" and kept.error and "IntegrityError" in kept.error
    assert SeenSignature.objects.filter(signature_key="note-outer1").exists()


def _receiver(body: Any) -> Any:
    def receiver(sender: Any, event: Any, **kwargs: Any) -> None:
        body(event)

    return receiver
