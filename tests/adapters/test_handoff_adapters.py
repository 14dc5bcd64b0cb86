"""A receiver with a hand-off behind every adapter: each answers 200 `queued` before any handler
ran, rings once, and the worker side then runs the handlers once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from fastapi import FastAPI
from flask import Flask, current_app

from suno_hooks import Event, Receiver, callback_received, task_completed
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.contrib.fastapi import suno_router
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.handoff import ThreadHandoff
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus, MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from ..support.adapters import ASGITestClient, CallbackClient
from ..support.handoff_bell import Bell


def test_every_adapter_answers_queued_and_the_worker_runs_it_once(
    client_factory: Callable[[Receiver], CallbackClient], calls: Any
):
    bell = Bell()
    store = MemoryStore()
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=bell)
    body = encode(make_callback("music", "complete", task_id="adapted"))
    reply = client_factory(receiver).post(body, sign_headers(body, HMAC_KEY))
    assert (reply.status, reply.body) == (200, {"status": "queued"})
    assert bell.rings == ["adapted:complete"] and calls.count == 0
    assert receiver.run_queued("adapted:complete").body == {"status": "received"}
    assert calls.count == 1


def test_fastapi_answers_queued():
    bell = Bell()
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=MemoryStore(), handoff=bell)
    app = FastAPI()
    app.include_router(suno_router(receiver))
    body = encode(make_callback("music", "complete", task_id="fastq"))
    reply = ASGITestClient(app).post(body, sign_headers(body, HMAC_KEY))
    assert reply.body == {"status": "queued"} and bell.rings == ["fastq:complete"]


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_on_the_django_store_the_ring_waits_for_the_commit():
    bell = Bell()
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=DjangoStore(), handoff=bell)
    heard: list[Event] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        heard.append(event)

    kept = encode(make_callback("music", "complete", task_id="committed"))
    dropped = encode(make_callback("music", "complete", task_id="rolledback"))
    with transaction.atomic():  # as a view under ATOMIC_REQUESTS
        assert receiver.handle(InboundRequest("POST", kept, sign_headers(kept, HMAC_KEY))).ok
        assert bell.rings == []
    assert bell.rings == ["committed:complete"]
    with pytest.raises(RuntimeError, match="the view failed"):
        failing_view(receiver, InboundRequest("POST", dropped, sign_headers(dropped, HMAC_KEY)))
    assert bell.rings == ["committed:complete"]
    assert receiver.store.get("rolledback:complete") is None
    with callback_received.connected_to(handler):
        assert receiver.run_queued("committed:complete").ok
    assert [e.task_id for e in heard] == ["committed"]
    stored = receiver.store.get("committed:complete")
    assert stored is not None and stored.status is DeliveryStatus.DONE


def failing_view(receiver: Receiver, request: InboundRequest) -> None:
    """A view under ATOMIC_REQUESTS that queues the callback, then fails: all is rolled back."""
    with transaction.atomic():
        assert receiver.handle(request).ok
        raise RuntimeError("the view failed")


def test_flask_handlers_run_in_the_worker_with_the_app_as_sender_and_its_context(
    tmp_path: Path,
) -> None:
    handoff = ThreadHandoff(workers=1)
    receiver = Receiver(
        hmac_keys=[HMAC_KEY], store=f"sqlite:///{tmp_path / 'inbox.db'}", handoff=handoff
    )
    app = Flask("worker-context")
    SunoHooks(app, receiver=receiver)
    seen: list[tuple[str, str]] = []

    @task_completed.connect_via(app)
    def label(sender: Flask, event: Event, **extra: Any) -> None:
        seen.append((current_app.name, event.task_id))

    try:
        raw = encode(make_callback(task_id="f" * 32))
        headers = sign_headers(raw, HMAC_KEY)
        answer = app.test_client().post("/suno/callback", data=raw, headers=headers)
        assert (answer.status_code, answer.get_json()) == (200, {"status": "queued"})
        assert handoff.close(timeout=10)
        assert seen == [("worker-context", "f" * 32)]
        done = receiver.store.get(f"{'f' * 32}:complete")
        assert done is not None and done.status is DeliveryStatus.DONE
    finally:
        task_completed.disconnect(label, sender=app)
