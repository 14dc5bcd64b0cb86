"""Answers off the happy path: any method but POST gets the JSON 405 (Flask too), a method is
case-sensitive, and an outcome the store cannot record is answered 503 so the sender retries."""

from __future__ import annotations

from typing import Any

from flask import Flask

from suno_hooks import Event, task_completed
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus, MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver


def test_flask_answers_trace_and_unknown_methods_with_the_json_405():
    app = Flask(__name__)
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    client = app.test_client()
    for method in ("TRACE", "FOO", "GET", "PUT"):
        reply = client.open("/suno/callback", method=method)
        assert reply.status_code == 405, method
        assert reply.headers["Allow"] == "POST"
        assert reply.get_json()["error"] == "method_not_allowed", method
    assert client.post("/suno/callback", data=encode(make_callback())).status_code == 200


def test_a_lower_case_method_is_not_post():
    receiver = unverified_receiver(store=MemoryStore())
    outcome = receiver.handle(InboundRequest("post", encode(make_callback())))
    assert (outcome.status, outcome.body["error"]) == (405, "method_not_allowed")


class _FinishFails(MemoryStore):
    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        raise OSError("disk full")


def test_an_unrecorded_outcome_is_answered_503_and_the_delivery_is_replayed_later():
    store = _FinishFails()
    receiver = unverified_receiver(store=store, lease=0.0)
    runs: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        runs.append(event.task_id)

    body = encode(make_callback(task_id="unrecorded"))
    with task_completed.connected_to(handler):
        outcome = receiver.handle(InboundRequest("POST", body))
        assert (outcome.status, outcome.body["error"]) == (503, "store_unavailable")
        assert outcome.headers["Retry-After"]
        kept = store.get("unrecorded:complete")
        assert kept is not None and kept.status is DeliveryStatus.ABANDONED
        store.__class__ = MemoryStore  # the disk has room again
        retry = receiver.handle(InboundRequest("POST", body))
    assert retry.body == {"status": "received"}
    assert runs == ["unrecorded", "unrecorded"]
    kept = store.get("unrecorded:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
