"""A terminal delivery that reached no handler is kept `failed` with `no_receiver` (and the
sender is still answered `received`), so connecting the handler and replaying reaches it; any
kept delivery can be replayed on purpose with `force=True`."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import httpx
import pytest
from flask import Flask

from suno_hooks import Event, Receiver, callback_received, task_completed, task_failed
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus, MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.browser import wsgi_server


def create_app(receiver: Receiver, seen: list[str]) -> Flask:
    """An app factory as a new user writes one: the handler is defined, and connected weakly,
    inside the factory, so nothing keeps it alive once the factory returns."""
    app = Flask(__name__)
    SunoHooks(app, receiver=receiver)

    @task_completed.connect
    def save(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.task_id)

    return app


def kept_status(receiver: Receiver, key: str) -> tuple[DeliveryStatus, str | None]:
    kept = receiver.store.get(key)
    assert kept is not None
    return kept.status, kept.error


def post(receiver: Receiver, body: dict[str, Any]) -> dict[str, Any]:
    return receiver.handle(InboundRequest("POST", encode(body))).body


def test_a_flask_factory_handler_that_was_collected_keeps_the_delivery_for_replay(
    caplog: pytest.LogCaptureFixture,
):
    receiver = unverified_receiver(store=MemoryStore())
    seen: list[str] = []
    app = create_app(receiver, seen)
    gc.collect()
    key = "c" * 32 + ":complete"
    with wsgi_server(app) as base, caplog.at_level(logging.WARNING, "suno_hooks"):
        body = encode(make_callback(task_id="c" * 32))
        answer = httpx.post(base + "/suno/callback", content=body)
        assert (answer.status_code, answer.json()) == (200, {"status": "received"})
        assert seen == []
        assert kept_status(receiver, key) == (DeliveryStatus.FAILED, "no_receiver")
        assert any("no handler is connected for " + key in r.getMessage() for r in caplog.records)
        again = httpx.post(base + "/suno/callback", content=body)
        assert again.json() == {"status": "received"}
        assert kept_status(receiver, key) == (DeliveryStatus.FAILED, "no_receiver")

        unheard = receiver.replay(key, sender=app)
        assert (unheard.status, unheard.body["error"]) == (503, "no_receiver")

        def save(sender: Any, event: Event, **extra: Any) -> None:
            seen.append(event.source)

        task_completed.connect(save, sender=app, weak=False)
        try:
            replayed = receiver.replay(key, sender=app)
        finally:
            task_completed.disconnect(save, sender=app)
    assert replayed.body == {"status": "received"}
    assert seen == ["replay"]
    assert kept_status(receiver, key) == (DeliveryStatus.DONE, None)


def test_progress_nobody_listens_to_is_done_and_callback_received_counts_as_a_handler():
    receiver = unverified_receiver(store=MemoryStore())
    assert post(receiver, make_callback(stage="text", task_id="p" * 32)) == {"status": "received"}
    assert kept_status(receiver, "p" * 32 + ":text") == (DeliveryStatus.DONE, None)

    heard: list[str] = []

    def log_all(sender: Any, event: Event, **extra: Any) -> None:
        heard.append(event.stage)

    with callback_received.connected_to(log_all):
        post(receiver, make_callback(task_id="q" * 32))
    assert heard == ["complete"]
    assert kept_status(receiver, "q" * 32 + ":complete") == (DeliveryStatus.DONE, None)

    def on_completed(sender: Any, event: Event, **extra: Any) -> None:
        heard.append("wrong signal")

    with task_completed.connected_to(on_completed):  # a failure goes to task_failed
        post(receiver, make_callback(stage="error", task_id="r" * 32))
    assert heard == ["complete"]
    assert kept_status(receiver, "r" * 32 + ":error") == (DeliveryStatus.FAILED, "no_receiver")


def test_no_receiver_is_answered_received_even_when_handler_errors_ask_for_a_retry():
    receiver = unverified_receiver(store=MemoryStore(), retry_on_error=True)
    outcome = receiver.handle(InboundRequest("POST", encode(make_callback(task_id="s" * 32))))
    assert (outcome.status, outcome.body) == (200, {"status": "received"})
    assert kept_status(receiver, "s" * 32 + ":complete") == (DeliveryStatus.FAILED, "no_receiver")


def test_acknowledge_first_keeps_an_unheard_delivery_failed_and_areplay_force_reruns():
    receiver = unverified_receiver(store=MemoryStore())
    key = "u" * 32 + ":complete"
    seen: list[str] = []

    async def save(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.source)

    async def scenario() -> None:
        request = InboundRequest("POST", encode(make_callback(task_id="u" * 32)))
        answer, after = await receiver.acknowledge_async(request)
        assert answer.body == {"status": "received"} and after is not None
        await after()
        assert kept_status(receiver, key) == (DeliveryStatus.FAILED, "no_receiver")
        with task_completed.connected_to(save):
            assert (await receiver.areplay(key)).body == {"status": "received"}
            assert (await receiver.areplay(key)).body == {"status": "duplicate"}
            assert (await receiver.areplay(key, force=True)).body == {"status": "received"}

    asyncio.run(scenario())
    assert seen == ["replay", "replay"]
    kept = receiver.store.get(key)
    assert kept is not None and (kept.status, kept.attempts) == (DeliveryStatus.DONE, 3)


def test_a_forced_replay_with_no_handler_changes_nothing():
    receiver = unverified_receiver(store=MemoryStore())
    with task_failed.connected_to(lambda sender, **extra: None):
        post(receiver, make_callback(stage="error", task_id="v" * 32))
    key = "v" * 32 + ":error"
    assert kept_status(receiver, key) == (DeliveryStatus.DONE, None)
    forced = receiver.replay(key, force=True)
    assert (forced.status, forced.body["error"]) == (503, "no_receiver")
    assert kept_status(receiver, key) == (DeliveryStatus.DONE, None)


def test_a_forced_replay_of_progress_after_the_task_ended_is_stale():
    receiver = unverified_receiver(store=MemoryStore())
    heard: list[str] = []

    def log_all(sender: Any, event: Event, **extra: Any) -> None:
        heard.append(event.stage)

    with callback_received.connected_to(log_all):
        post(receiver, make_callback(stage="first", task_id="w" * 32))
        post(receiver, make_callback(task_id="w" * 32))
        forced = receiver.replay("w" * 32 + ":first", force=True)
    assert forced.body == {"status": "stale"}
    assert heard == ["first", "complete"]
    assert kept_status(receiver, "w" * 32 + ":first") == (DeliveryStatus.DONE, None)


@pytest.mark.django_db(transaction=True)
def test_a_django_receiver_that_was_collected_keeps_the_delivery_for_replay():
    from suno_hooks.contrib.django import signals as django_signals
    from suno_hooks.contrib.django.conf import get_receiver

    from ..adapters.test_django_admin import deliver

    seen: list[str] = []

    def connect_in_a_function() -> None:
        def save(sender: Any, event: Event, **extra: Any) -> None:
            seen.append(event.source)

        django_signals.task_completed.connect(save)  # weak: collected on return

    connect_in_a_function()
    gc.collect()
    key = deliver(make_callback(task_id="j" * 32))
    receiver = get_receiver()
    assert kept_status(receiver, key) == (DeliveryStatus.FAILED, "no_receiver")
    assert seen == []

    def save(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.source)

    django_signals.task_completed.connect(save, weak=False)
    try:
        assert receiver.replay(key).body == {"status": "received"}
        assert receiver.replay(key, force=True).body == {"status": "received"}
    finally:
        django_signals.task_completed.disconnect(save)
    assert seen == ["replay", "replay"]
    assert kept_status(receiver, key) == (DeliveryStatus.DONE, None)
