"""Every row of the DESIGN §3 response table, through every registered adapter on the memory
store, and through a sync, an async and an acknowledge-first adapter on every other store kind:
the answer never depends on the store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from suno_hooks import Event, Receiver, task_completed, task_progress
from suno_hooks.stores import ClaimResult, Delivery, Store
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, OLD_HMAC_KEY, SECRET, Calls, unverified_receiver
from ..support.adapters import ADAPTERS, CallbackClient
from ..support.stores import STORE_KINDS, StoreFactory

Factory = Callable[[Receiver], CallbackClient]

# Each store kind beyond memory runs the table through the synchronous path, the asyncio path
# and the path that answers before dispatching.
STORE_ADAPTERS = ["wsgi", "asgi", "asgi-acknowledge-first"]
TABLE_RUNS = [(adapter, "memory") for adapter in sorted(ADAPTERS)] + [
    (adapter, kind) for kind in STORE_KINDS if kind != "memory" for adapter in STORE_ADAPTERS
]


@pytest.fixture(params=TABLE_RUNS, ids=[f"{adapter}-{kind}" for adapter, kind in TABLE_RUNS])
def table_run(request: pytest.FixtureRequest) -> tuple[str, str]:
    """One (adapter, store kind) pair of the table's runs."""
    run: tuple[str, str] = request.param
    return run


@pytest.fixture
def make_store(table_run: tuple[str, str], request: pytest.FixtureRequest) -> StoreFactory:
    """Fresh stores of the run's kind (the servers are started once per session)."""
    factory: StoreFactory = request.getfixturevalue(f"{table_run[1]}_store_factory")
    return factory


@pytest.fixture
def client_factory(table_run: tuple[str, str]) -> Factory:
    """The run's adapter."""
    return ADAPTERS[table_run[0]]


@pytest.fixture
def signed_receiver(store: Store) -> Receiver:
    """A receiver that requires Kie signatures (current and previous key), on the run's store."""
    return Receiver(hmac_keys=[HMAC_KEY, OLD_HMAC_KEY], secret_key=SECRET, store=store)


def signed(
    body: dict[str, Any], key: str = HMAC_KEY, **kwargs: Any
) -> tuple[bytes, dict[str, str]]:
    raw = encode(body)
    return raw, sign_headers(raw, key, **kwargs)


def assert_error(reply: Any, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.body["error"] == code
    assert isinstance(reply.body["detail"], str) and reply.body["detail"]
    assert reply.headers["content-type"].startswith("application/json")


class Unreachable:
    """A store of the kind under test whose backend cannot be reached."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection refused")

    async def aclaim(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection refused")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_method_must_be_post(client_factory: Factory, signed_receiver: Receiver, calls: Calls):
    reply = client_factory(signed_receiver).post(b"", method="GET")
    assert_error(reply, 405, "method_not_allowed")
    assert reply.headers["allow"] == "POST"
    assert calls.count == 0


def test_body_over_max_body_is_413(client_factory: Factory, store: Store, calls: Calls):
    receiver = unverified_receiver(store=store, max_body=200)
    body = encode(make_callback())
    assert len(body) > 200
    assert_error(client_factory(receiver).post(body), 413, "payload_too_large")
    assert calls.count == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type_is_415(
    client_factory: Factory, store: Store, content_type: str, calls: Calls
):
    receiver = unverified_receiver(store=store)
    reply = client_factory(receiver).post(encode(make_callback()), {"Content-Type": content_type})
    assert_error(reply, 415, "unsupported_media_type")
    assert calls.count == 0


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "Application/JSON; charset=utf-8"]
)
def test_json_or_missing_content_type_is_accepted(
    client_factory: Factory, store: Store, content_type: str | None, calls: Calls
):
    receiver = unverified_receiver(store=store)
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client_factory(receiver).post(encode(make_callback()), headers)
    assert reply.status == 200
    assert reply.body == {"status": "received"}
    assert calls.count == 1


def test_peer_outside_allow_list_is_403(client_factory: Factory, store: Store, calls: Calls):
    receiver = unverified_receiver(store=store, allowed_ips=["10.0.0.0/8"])
    reply = client_factory(receiver).post(encode(make_callback()))
    assert_error(reply, 403, "forbidden_source")
    assert calls.count == 0


def test_peer_inside_allow_list_is_accepted(client_factory: Factory, store: Store, calls: Calls):
    receiver = unverified_receiver(store=store, allowed_ips=["127.0.0.0/8", "::1"])
    assert client_factory(receiver).post(encode(make_callback())).status == 200
    assert calls.count == 1


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_400(
    client_factory: Factory, store: Store, body: bytes, calls: Calls
):
    receiver = unverified_receiver(store=store)
    assert_error(client_factory(receiver).post(body), 400, "invalid_json")
    assert calls.count == 0


@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "msg": "ok", "data": {"callbackType": "complete"}},
        {"code": 200, "data": {"task_id": ""}},
        {"code": 200, "data": {"task_id": None}},
        {"code": 200, "task_id": "a" * 20, "data": {"task_id": "b" * 20}},
    ],
)
def test_missing_or_ambiguous_task_id_is_400(
    client_factory: Factory, store: Store, body: dict, calls: Calls
):
    receiver = unverified_receiver(store=store)
    assert_error(client_factory(receiver).post(encode(body)), 400, "invalid_payload")
    assert calls.count == 0


@pytest.mark.parametrize("offset", [0, -3600])
def test_malformed_body_is_400_before_a_forged_or_stale_signature(
    client_factory: Factory, signed_receiver: Receiver, offset: int, calls: Calls
):
    headers = sign_headers(b"", "some-other-key", int(time.time()) + offset, task_id="abc")
    for body in (b"not json", encode({"code": 200, "data": {"callbackType": "complete"}})):
        reply = client_factory(signed_receiver).post(body, headers)
        assert reply.status == 400, reply.body
    assert calls.count == 0


def test_missing_signature_is_401(client_factory: Factory, signed_receiver: Receiver, calls: Calls):
    reply = client_factory(signed_receiver).post(encode(make_callback()))
    assert_error(reply, 401, "missing_signature")
    assert calls.count == 0


# int() drops up to a second, so the future case steps 302 s ahead to stay past 300 s.
@pytest.mark.parametrize("offset", [-301, 302, -86400])
def test_timestamp_outside_window_is_401(
    client_factory: Factory, signed_receiver: Receiver, offset: int, calls: Calls
):
    raw, headers = signed(make_callback(), timestamp=int(time.time()) + offset)
    assert_error(client_factory(signed_receiver).post(raw, headers), 401, "stale_timestamp")
    assert calls.count == 0


def test_wrong_key_is_401(client_factory: Factory, signed_receiver: Receiver, calls: Calls):
    raw, headers = signed(make_callback(), key="some-other-key")
    assert_error(client_factory(signed_receiver).post(raw, headers), 401, "invalid_signature")
    assert calls.count == 0


def test_signature_for_another_task_is_401(client_factory: Factory, signed_receiver: Receiver):
    raw = encode(make_callback())
    headers = sign_headers(raw, HMAC_KEY, task_id="0" * 32)
    assert_error(client_factory(signed_receiver).post(raw, headers), 401, "invalid_signature")


@pytest.mark.parametrize("key", [HMAC_KEY, OLD_HMAC_KEY])
def test_every_configured_key_verifies(
    client_factory: Factory, signed_receiver: Receiver, key: str, calls: Calls
):
    raw, headers = signed(make_callback(), key=key)
    lower = {name.lower(): value for name, value in headers.items()}
    reply = client_factory(signed_receiver).post(raw, lower)
    assert reply.status == 200, reply.body
    assert calls.count == 1


def test_same_signature_with_another_body_is_replayed(
    client_factory: Factory, signed_receiver: Receiver, calls: Calls
):
    client = client_factory(signed_receiver)
    body = make_callback()
    raw, headers = signed(body)
    assert client.post(raw, headers).status == 200
    forged = dict(body, msg="forged")
    forged["data"] = dict(body["data"], callbackType="error")
    assert_error(client.post(encode(forged), headers), 401, "replayed_signature")
    assert calls.count == 1


def test_token_required_and_missing_is_401(client_factory: Factory, store: Store, calls: Calls):
    receiver = Receiver(secret_key=SECRET, store=store)
    assert receiver.require == "token"
    assert_error(client_factory(receiver).post(encode(make_callback())), 401, "invalid_token")
    assert calls.count == 0


def test_forged_token_is_401_even_when_not_required(
    client_factory: Factory, signed_receiver: Receiver, calls: Calls
):
    raw, headers = signed(make_callback())
    reply = client_factory(signed_receiver).post(raw, headers, query="token=forged.token.value")
    assert_error(reply, 401, "invalid_token")
    assert calls.count == 0


def test_expired_token_is_401(client_factory: Factory, store: Store, calls: Calls):
    receiver = Receiver(secret_key=SECRET, store=store, token_max_age=-1)
    url = receiver.callback_url("https://example.com/suno/callback", context={"user": 1})
    query = url.split("?", 1)[1]
    reply = client_factory(receiver).post(encode(make_callback()), query=query)
    assert_error(reply, 401, "invalid_token")
    assert calls.count == 0


def test_valid_token_carries_context_and_feature(
    client_factory: Factory, store: Store, calls: Calls
):
    receiver = Receiver(secret_key=SECRET, store=store)
    url = receiver.callback_url(
        "https://example.com/suno/callback?x=1", context={"user": 42}, feature="lyrics"
    )
    query = url.split("?", 1)[1]
    body = make_callback("lyrics", "error")
    reply = client_factory(receiver).post(encode(body), query=query)
    assert reply.status == 200, reply.body
    event = calls.events[0]
    assert event.context == {"user": 42}
    assert event.feature == "lyrics"
    assert event.kind == "lyrics"
    assert event.status == "failed"


@pytest.mark.parametrize("require", ["both", "either"])
def test_require_both_and_either(client_factory: Factory, store: Store, require: str, calls: Calls):
    receiver = Receiver(hmac_keys=[HMAC_KEY], secret_key=SECRET, store=store, require=require)  # type: ignore[arg-type]
    client = client_factory(receiver)
    token_query = receiver.callback_url("https://x.test/cb").split("?", 1)[1]
    only_signed = signed(make_callback())
    only_token = encode(make_callback())
    neither = encode(make_callback())
    if require == "both":
        assert_error(client.post(*only_signed), 401, "invalid_token")
        assert_error(client.post(only_token, query=token_query), 401, "missing_signature")
        raw, headers = signed(make_callback())
        assert client.post(raw, headers, query=token_query).status == 200
    else:
        assert client.post(*only_signed).status == 200
        assert client.post(only_token, query=token_query).status == 200
        assert_error(client.post(neither), 401, "missing_signature")


def test_unreachable_store_is_503_with_retry_after(
    client_factory: Factory, store: Store, calls: Calls
):
    receiver = unverified_receiver(store=Unreachable(store))
    reply = client_factory(receiver).post(encode(make_callback()))
    assert_error(reply, 503, "store_unavailable")
    assert int(reply.headers["retry-after"]) > 0
    assert "refused" not in json.dumps(reply.body)
    assert calls.count == 0


def test_duplicate_is_acknowledged_once(
    client_factory: Factory, signed_receiver: Receiver, calls: Calls
):
    client = client_factory(signed_receiver)
    raw, headers = signed(make_callback())
    assert client.post(raw, headers).body == {"status": "received"}
    assert client.post(raw, headers).body == {"status": "duplicate"}
    raw_again, headers_again = signed(json.loads(raw), timestamp=int(time.time()) - 5)
    assert client.post(raw_again, headers_again).body == {"status": "duplicate"}
    assert calls.count == 1


def test_delivery_claimed_elsewhere_is_409(client_factory: Factory, store: Store, calls: Calls):
    receiver = unverified_receiver(store=store)
    body = make_callback()
    task_id = body["data"]["task_id"]
    elsewhere = Delivery(key=f"{task_id}:complete", task_id=task_id, stage="complete", body=b"{}")
    assert store.claim(elsewhere, lease=60).result is ClaimResult.NEW
    assert_error(client_factory(receiver).post(encode(body)), 409, "in_progress")
    assert calls.count == 0


def test_progress_after_terminal_is_stale(client_factory: Factory, store: Store, calls: Calls):
    receiver = unverified_receiver(store=store)
    client = client_factory(receiver)
    complete = make_callback(stage="complete")
    task_id = complete["data"]["task_id"]
    progress: list[Event] = []

    def on_progress(sender: Any, event: Event, **extra: Any) -> None:
        progress.append(event)

    with task_progress.connected_to(on_progress):
        assert client.post(encode(complete)).body == {"status": "received"}
        late = make_callback(stage="first", task_id=task_id)
        assert client.post(encode(late)).body == {"status": "stale"}
    assert progress == []
    assert [e.stage for e in calls.events] == ["complete"]


def test_accepted_callback_reaches_the_handler(
    client_factory: Factory, signed_receiver: Receiver, calls: Calls
):
    completed: list[Event] = []

    def on_complete(sender: Any, event: Event, **extra: Any) -> None:
        completed.append(event)

    with task_completed.connected_to(on_complete):
        raw, headers = signed(make_callback())
        reply = client_factory(signed_receiver).post(raw, headers)
    assert reply.status == 200
    assert reply.body == {"status": "received"}
    assert len(completed) == 1
    event = completed[0]
    assert event.kind == "music" and event.stage == "complete" and event.ok
    assert len(event.tracks) == 2
    assert event.raw == json.loads(raw)


def test_failing_handler_is_acknowledged_kept_and_rerun(
    client_factory: Factory, store: Store, calls: Calls
):
    receiver = unverified_receiver(store=store)
    client = client_factory(receiver)
    attempts: list[int] = []

    def flaky(sender: Any, event: Event, **extra: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    body = make_callback()
    key = f"{body['data']['task_id']}:complete"
    with task_completed.connected_to(flaky):
        assert client.post(encode(body)).body == {"status": "received"}
        kept = store.get(key)
        assert kept is not None and kept.status == "failed"
        assert "database down" in (kept.error or "")
        assert client.post(encode(body)).body == {"status": "received"}
        assert client.post(encode(body)).body == {"status": "duplicate"}
    assert len(attempts) == 2
    done = store.get(key)
    assert done is not None and done.status == "done" and done.attempts == 2


def test_failing_handler_with_retry_on_error_is_500(client_factory: Factory, store: Store):
    receiver = unverified_receiver(store=store, retry_on_error=True)

    def broken(sender: Any, event: Event, **extra: Any) -> None:
        raise RuntimeError("boom")

    with task_completed.connected_to(broken):
        reply = client_factory(receiver).post(encode(make_callback()))
    assert_error(reply, 500, "handler_error")
    assert "boom" not in json.dumps(reply.body)
