"""The Django app end to end through Django's test clients: URLs, CSRF, APPEND_SLASH, the
Django signals (sync and async), the ORM store behind the settings-built receiver."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connections as django_connections
from django.dispatch import receiver as connect
from django.test import AsyncClient, Client, override_settings
from django.urls import resolve, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks import Event, Receiver
from suno_hooks import signals as blinker_signals
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import probe
from suno_hooks._pipeline.dispatch import BlinkerDispatcher
from suno_hooks.contrib.django import signals, urls, views
from suno_hooks.contrib.django.conf import get_receiver
from suno_hooks.contrib.django.dispatcher import DjangoDispatcher
from suno_hooks.contrib.django.models import Delivery
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.stores import MemoryStore, store_from_url
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def signed_post(
    client: Client,
    body: dict[str, Any],
    path: str = "/suno/callback",
    key: str = HMAC_KEY,
    timestamp: int | None = None,
) -> Any:
    raw = encode(body)
    headers = sign_headers(raw, key, timestamp)
    content_type = headers.pop("Content-Type")
    return client.post(path, raw, content_type=content_type, headers=headers)


async def asigned_post(client: AsyncClient, body: dict[str, Any], path: str) -> Any:
    raw = encode(body)
    headers = sign_headers(raw, HMAC_KEY)
    content_type = headers.pop("Content-Type")
    return await client.post(path, raw, content_type=content_type, headers=headers)


class Seen:
    """A Django signal receiver that records the sender and kwargs of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []
        self.threads: list[int] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append((sender, kwargs))
        self.threads.append(threading.get_ident())


@pytest.fixture
def completed() -> Iterator[Seen]:
    seen = Seen()
    signals.task_completed.connect(seen, weak=False)
    yield seen
    signals.task_completed.disconnect(seen)


def test_settings_build_a_receiver_with_the_orm_store_and_django_dispatcher():
    hooks = get_receiver()
    assert isinstance(hooks.store, DjangoStore)
    assert isinstance(hooks.dispatcher, DjangoDispatcher)
    assert hooks.require == "signature"
    assert get_receiver() is hooks
    assert isinstance(store_from_url("django://?using=default"), DjangoStore)


def test_callback_url_for_a_request_carries_context_back(completed: Seen):
    from django.test import RequestFactory

    from suno_hooks.contrib.django.conf import callback_url

    with override_settings(SUNO_HOOKS={"STORE": "django://"}):
        request = RequestFactory().get("/anything", HTTP_HOST="testserver:8000")
        url = callback_url(request, context={"order": 7}, feature="lyrics")
        assert url.startswith("http://testserver:8000/suno/callback?token=")
        path = url.removeprefix("http://testserver:8000")
        body = encode(make_callback("lyrics", "complete"))
        response = Client().post(path, body, content_type="application/json")
    assert response.status_code == 200, response.json()
    event = completed.calls[-1][1]["event"]
    assert event.context == {"order": 7}
    assert event.kind == "lyrics"


def test_token_secret_defaults_to_djangos_secret_key():
    with override_settings(SUNO_HOOKS={"STORE": "django://"}):
        hooks = get_receiver()
        assert hooks.require == "token"
        url = hooks.callback_url("http://testserver/suno/callback", context={"user": 7})
        response = Client().post(url, encode(make_callback()), content_type="application/json")
    assert response.status_code == 200, response.json()
    with override_settings(SUNO_HOOKS={"STORE": "django://"}, SECRET_KEY="another-secret"):
        response = Client().post(url, encode(make_callback()), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_callback_url_name_and_both_slash_forms_answer_without_redirect(completed: Seen):
    assert reverse("suno_hooks:callback") == "/suno/callback"
    assert reverse("suno_hooks_async:callback") == "/suno-async/callback"
    client = Client()
    for path in ("/suno/callback", "/suno/callback/", "/suno-async/callback/"):
        response = signed_post(client, make_callback(), path=path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.json() == {"status": "received"}
    assert len(completed.calls) == 3


def test_get_is_405_not_a_redirect():
    response = Client().get("/suno/callback")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_csrf_checks_do_not_block_callbacks(completed: Seen):
    client = Client(enforce_csrf_checks=True)
    assert signed_post(client, make_callback()).status_code == 200
    assert signed_post(client, make_callback(), path="/suno-async/callback").status_code == 200
    assert len(completed.calls) == 2


def test_sync_view_sends_django_signals_with_the_receiver_as_sender(completed: Seen):
    received = Seen()
    blinker_seen: list[Event] = []

    def on_blinker(sender: Any, event: Event, **extra: Any) -> None:
        blinker_seen.append(event)

    signals.callback_received.connect(received, weak=False)
    try:
        with blinker_signals.task_completed.connected_to(on_blinker):
            body = make_callback()
            assert signed_post(Client(), body).json() == {"status": "received"}
    finally:
        signals.callback_received.disconnect(received)
    sender, kwargs = completed.calls[0]
    assert sender is get_receiver()
    event = kwargs["event"]
    assert isinstance(event, Event) and event.task_id == body["data"]["task_id"]
    assert event.kind == "music" and len(event.tracks) == 2
    assert received.calls[0][1]["event"] is event
    assert blinker_seen == [event]


def test_a_ready_receivers_default_blinker_dispatcher_becomes_the_django_one():
    ready = Receiver(store=DjangoStore(using="default"), secret_key="x")
    custom = BlinkerDispatcher(run_async=asyncio.run)
    given = Receiver(store=MemoryStore(), secret_key="x", dispatcher=custom)
    with override_settings(SUNO_HOOKS={"RECEIVER": ready}):
        assert get_receiver() is ready
    assert isinstance(ready.dispatcher, DjangoDispatcher)
    assert isinstance(ready.dispatcher.also, BlinkerDispatcher)
    assert ready.dispatcher.using == "default"
    with override_settings(SUNO_HOOKS={"RECEIVER": given}):
        assert get_receiver() is given
    assert given.dispatcher is custom


def test_sender_filter_selects_the_receiver():
    other = Receiver(store=MemoryStore(), secret_key="x")
    filtered = Seen()
    signals.task_completed.connect(filtered, sender=other, weak=False)
    try:
        signed_post(Client(), make_callback())
        assert filtered.calls == []
        with override_settings(SUNO_HOOKS={"RECEIVER": other}):
            url = other.callback_url("http://testserver/suno/callback")
            Client().post(url, encode(make_callback()), content_type="application/json")
        assert [sender for sender, _ in filtered.calls] == [other]
    finally:
        signals.task_completed.disconnect(filtered, sender=other)


def test_stage_signals_match_the_event_status():
    progress, failed = Seen(), Seen()
    signals.task_progress.connect(progress, weak=False)
    signals.task_failed.connect(failed, weak=False)
    try:
        task_id = "a" * 32
        signed_post(Client(), make_callback(stage="text", task_id=task_id))
        late = int(time.time()) + 1
        signed_post(Client(), make_callback(stage="error", task_id=task_id), timestamp=late)
    finally:
        signals.task_progress.disconnect(progress)
        signals.task_failed.disconnect(failed)
    assert [kw["event"].stage for _, kw in progress.calls] == ["text"]
    assert [kw["event"].status for _, kw in failed.calls] == ["failed"]


async def test_async_view_awaits_async_receivers_and_runs_sync_ones_off_the_loop():
    awaited: list[str] = []
    sync_rows: list[int] = []
    loop_thread = threading.get_ident()

    async def on_complete(sender: Any, event: Event, **kwargs: Any) -> None:
        await asyncio.sleep(0.01)
        awaited.append(event.task_id)

    def on_received(sender: Any, event: Event, **kwargs: Any) -> None:
        assert threading.get_ident() != loop_thread
        sync_rows.append(Delivery.objects.filter(task_id=event.task_id).count())

    signals.task_completed.connect(on_complete, weak=False)
    signals.callback_received.connect(on_received, weak=False)
    try:
        body = make_callback()
        response = await asigned_post(AsyncClient(), body, "/suno-async/callback")
    finally:
        signals.task_completed.disconnect(on_complete)
        signals.callback_received.disconnect(on_received)
    assert response.status_code == 200
    assert response.json() == {"status": "received"}
    assert awaited == [body["data"]["task_id"]]
    assert sync_rows == [1]


def test_sync_view_runs_async_receivers_to_completion():
    awaited: list[str] = []

    @connect(signals.task_completed, weak=False, dispatch_uid="test-async-on-sync")
    async def on_complete(sender: Any, event: Event, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        awaited.append(event.task_id)

    try:
        body = make_callback()
        assert signed_post(Client(), body).status_code == 200
    finally:
        signals.task_completed.disconnect(dispatch_uid="test-async-on-sync")
    assert awaited == [body["data"]["task_id"]]


@pytest.mark.parametrize("path", ["/suno/callback", "/suno-async/callback"])
def test_duplicate_is_stored_once_and_acknowledged(path: str, completed: Seen):
    raw = encode(make_callback())
    headers = sign_headers(raw, HMAC_KEY)
    content_type = headers.pop("Content-Type")
    answers = [
        Client().post(path, raw, content_type=content_type, headers=headers).json()
        for _ in range(3)
    ]
    assert answers == [{"status": "received"}] + [{"status": "duplicate"}] * 2
    assert len(completed.calls) == 1
    row = Delivery.objects.get()
    assert row.status == "done" and row.attempts == 1
    assert bytes(row.body) == raw
    assert row.headers["x-webhook-signature"] == headers["X-Webhook-Signature"]
    assert row.peer == "127.0.0.1"


@pytest.mark.parametrize("path", ["/suno/callback", "/suno-async/callback"])
def test_failing_receiver_is_kept_failed_then_replayed(path: str, completed: Seen):
    calls: list[int] = []

    def flaky(sender: Any, event: Event, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("warehouse offline")

    signals.task_completed.connect(flaky, weak=False)
    try:
        body = make_callback()
        assert signed_post(Client(), body, path=path).json() == {"status": "received"}
        row = Delivery.objects.get()
        assert row.status == "failed"
        assert "flaky: RuntimeError: warehouse offline" in (row.error or "")
        assert len(completed.calls) == 1
        outcome = get_receiver().replay(row.key)
    finally:
        signals.task_completed.disconnect(flaky)
    assert outcome.body == {"status": "received"}
    row.refresh_from_db()
    assert row.status == "done" and row.attempts == 2 and row.error is None
    assert len(calls) == 2


@pytest.mark.parametrize("path", ["/suno/callback", "/suno-async/callback"])
def test_rejections_send_callback_rejected(path: str):
    rejected = Seen()
    signals.callback_rejected.connect(rejected, weak=False)
    try:
        response = signed_post(Client(), make_callback(), path=path, key="wrong-key")
    finally:
        signals.callback_rejected.disconnect(rejected)
    assert response.status_code == 401
    sender, kwargs = rejected.calls[0]
    assert sender is get_receiver()
    assert kwargs.pop("signal") is signals.callback_rejected
    assert kwargs == {
        "error": "invalid_signature",
        "status": 401,
        "detail": response.json()["detail"],
        "peer": "127.0.0.1",
    }
    assert Delivery.objects.count() == 0


def test_failing_rejection_monitor_is_contained():
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("metrics down")

    signals.callback_rejected.connect(broken, weak=False)
    try:
        response = Client().post("/suno/callback", b"{}", content_type="application/json")
    finally:
        signals.callback_rejected.disconnect(broken)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"


def test_async_setting_selects_the_async_view():
    assert resolve("/suno/callback").func is views.callback
    try:
        with override_settings(SUNO_HOOKS={"ASYNC": True}):
            reloaded = importlib.reload(urls)
            assert [p.callback for p in reloaded.urlpatterns] == [views.async_callback] * 2
    finally:
        importlib.reload(urls)
    assert [p.callback for p in urls.urlpatterns] == [views.callback] * 2


def test_body_over_max_body_is_refused_before_reading():
    with override_settings(SUNO_HOOKS={"HMAC_KEYS": [HMAC_KEY], "MAX_BODY": 100}):
        response = signed_post(Client(), make_callback())
    assert response.status_code == 413
    assert Delivery.objects.count() == 0


class Jammed:
    """A callable receiver object (no __qualname__) that always fails."""

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("jammed")


@pytest.mark.parametrize("path", ["/suno/callback", "/suno-async/callback"])
def test_failing_receiver_object_never_breaks_the_answer(path: str):
    jammed = Jammed()
    signals.task_completed.connect(jammed, weak=False)
    try:
        response = signed_post(Client(), make_callback(), path=path)
    finally:
        signals.task_completed.disconnect(jammed)
    assert response.json() == {"status": "received"}
    row = Delivery.objects.get()
    # Django's failure logging raises on an object without `__qualname__`; the inbox still
    # names the receiver's own error.
    assert row.status == "failed"
    assert "(while reporting RuntimeError: jammed)" in (row.error or "")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300) | st.builds(encode, st.dictionaries(st.text(), st.text())),
    query=st.text(max_size=60),
    content_type=st.sampled_from(["", "application/json", "text/plain", "application/json; x=1"]),
    asynchronous=st.booleans(),
)
def test_any_request_gets_a_json_answer_and_never_a_500(
    body: bytes, query: str, content_type: str, asynchronous: bool
):
    store = MemoryStore()
    hooks = Receiver(hmac_keys=[HMAC_KEY], secret_key="s", store=store)
    path = "/suno-async/callback" if asynchronous else "/suno/callback"
    with override_settings(SUNO_HOOKS={"RECEIVER": hooks}):
        response = Client().post(f"{path}?{quote(query)}", body, content_type=content_type)
    assert response.status_code in (400, 401, 415)
    answer = response.json()
    assert set(answer) == {"error", "detail"}
    assert store.deliveries() == []


async def test_failing_async_receiver_on_the_async_view_is_kept_failed():
    ran: list[str] = []

    async def broken(sender: Any, event: Event, **kwargs: Any) -> None:
        raise ValueError("bad cover art")

    async def fine(sender: Any, event: Event, **kwargs: Any) -> None:
        ran.append(event.task_id)

    signals.task_completed.connect(broken, weak=False)
    signals.task_completed.connect(fine, weak=False)
    try:
        body = make_callback()
        response = await asigned_post(AsyncClient(), body, "/suno-async/callback")
    finally:
        signals.task_completed.disconnect(broken)
        signals.task_completed.disconnect(fine)
    assert response.json() == {"status": "received"}
    assert ran == [body["data"]["task_id"]]
    row = await Delivery.objects.aget(task_id=body["data"]["task_id"])
    assert row.status == "failed"
    assert "broken: ValueError: bad cover art" in (row.error or "")


def test_the_receivers_transaction_opens_only_on_a_database_that_exists(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """The default database when there is one, none without (the receivers still run), and an
    alias named on purpose but not configured fails the delivery (kept for replay)."""
    event = build_event(probe(make_callback(task_id="t-databases")))
    seen = Seen()
    sender = Receiver(store=MemoryStore(), secret_key="x")
    signals.task_completed.connect(seen, weak=False)
    try:
        assert DjangoDispatcher().database() == "default"
        missing = DjangoDispatcher(using="reports")
        [failure] = missing.send(sender, event)
        assert "reports" in failure and seen.calls == []
        assert "the receivers' transaction failed" in caplog.text
        empty = {"default": {"ENGINE": "django.db.backends.dummy"}}  # Django's stand-in for {}
        monkeypatch.setattr(django_connections, "settings", empty)
        none = DjangoDispatcher()
        assert none.database() is None
        assert none.send(sender, event) == []
        assert asyncio.run(none.asend(sender, event)) == []
        assert [call[1]["event"] for call in seen.calls] == [event, event]
    finally:
        signals.task_completed.disconnect(seen)
