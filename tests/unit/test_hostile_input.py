"""Hostile input, bounded work: the lenient repair is bounded and kept off the event loop,
IPv4-mapped peers match IPv4 allow-lists, a malformed Content-Length gets a JSON answer, and a
tampered body under a valid signature never reaches a handler."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

import suno_hooks._pipeline.processing as processing_module
from suno_hooks import Event, Receiver, callback_received
from suno_hooks._callbacks.lenient import MAX_PASSES, validate_leniently
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks._security.allow_list import SourceFilter
from suno_hooks.asgi import asgi_app
from suno_hooks.events import Track
from suno_hooks.inbound import InboundRequest, content_length
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers
from suno_hooks.wsgi import wsgi_app

from ..conftest import HMAC_KEY, unverified_receiver
from ..support.adapters import DjangoTestClient
from ..support.strategies import json_values


def invalid_tracks(count: int) -> list[dict[str, Any]]:
    """Track objects whose every field has a type that cannot be coerced."""
    return [
        {"id": [i], "audio_url": {"x": 1}, "duration": "nope", "createTime": "?", "title": [1]}
        for i in range(count)
    ]


def hostile_body(count: int) -> bytes:
    data = {"callbackType": "complete", "task_id": "hostile1", "data": invalid_tracks(count)}
    return json.dumps({"code": 200, "msg": "ok", "data": data}).encode()


class CountingValidator:
    """The real validator of a `TypeAdapter`, counting how often it validates."""

    def __init__(self, adapter: TypeAdapter[Any]) -> None:
        self.real = adapter.validator
        self.calls = 0

    def validate_python(self, value: Any) -> Any:
        self.calls += 1
        return self.real.validate_python(value)


@pytest.mark.parametrize("count", [3, 400, 9000])
def test_lenient_repair_takes_a_bounded_number_of_validations(count: int):
    adapter = TypeAdapter(list[Track])
    counting = CountingValidator(adapter)
    good = {"id": "ok", "audio_url": "https://x.test/ok.mp3"}
    value = [*invalid_tracks(count), good]

    class Adapter:
        validator = counting

    tracks = validate_leniently(Adapter(), value)  # type: ignore[arg-type]
    assert counting.calls <= MAX_PASSES + 2
    assert all(isinstance(track, Track) for track in tracks)
    if count < 9000:  # below the error bound the valid item survives
        assert tracks[-1].audio_url == "https://x.test/ok.mp3"


def test_a_large_body_of_invalid_items_is_answered():
    body = hostile_body(7000)
    assert len(body) > 512 * 1024
    event = build_event(probe(load_json(body)))
    assert event.task_id == "hostile1" and event.tracks == [] and event.raw["data"]["data"]


@settings(max_examples=60, deadline=None)
@given(items=st.lists(json_values, max_size=30))
def test_lenient_validation_never_raises(items: list[Any]):
    tracks = validate_leniently(TypeAdapter(list[Track]), items)
    assert all(isinstance(track, Track) for track in tracks)


async def test_large_bodies_build_their_event_off_the_loop(monkeypatch: pytest.MonkeyPatch):
    loop_thread = threading.get_ident()
    built_on: list[bool] = []
    real_build = processing_module.build_event

    def spying_build(*args: Any, **kwargs: Any) -> Event:
        built_on.append(threading.get_ident() == loop_thread)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(processing_module, "build_event", spying_build)
    receiver = unverified_receiver(store=MemoryStore())
    small = await receiver.handle_async(InboundRequest("POST", encode(make_callback())))
    large = await receiver.handle_async(InboundRequest("POST", hostile_body(2000)))
    assert small.body == large.body == {"status": "received"}
    assert built_on == [True, False]


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("::ffff:203.0.113.7", True),
        ("::FFFF:203.0.113.250", True),
        ("203.0.113.7", True),
        ("::ffff:198.51.100.7", False),
        ("2001:db8::7", False),
        ("::ffff:cb00:7107", True),  # the same mapped address in hex
    ],
)
def test_ipv4_mapped_peers_match_ipv4_allow_lists(peer: str, allowed: bool):
    receiver = unverified_receiver(store=MemoryStore(), allowed_ips=["203.0.113.0/24"])
    outcome = receiver.handle(InboundRequest("POST", encode(make_callback()), peer=peer))
    assert (outcome.status == 200) is allowed, outcome.body
    forwarded = SourceFilter(["203.0.113.0/24"], trusted_proxies=1)
    assert forwarded.allows("10.0.0.1", {"x-forwarded-for": peer}) is allowed


@settings(max_examples=200)
@given(address=st.ip_addresses(v=4), network=st.ip_addresses(v=4), prefix=st.integers(0, 32))
def test_a_mapped_address_is_allowed_exactly_when_its_ipv4_form_is(
    address: ipaddress.IPv4Address, network: ipaddress.IPv4Address, prefix: int
):
    source = SourceFilter([f"{network}/{prefix}"])
    allowed = source.allows(str(address), {})
    assert allowed == (address in ipaddress.ip_network(f"{network}/{prefix}", strict=False))
    assert source.allows(f"::ffff:{address}", {}) == allowed
    assert SourceFilter([f"::ffff:{network}/{96 + prefix}"]).allows(str(address), {}) == allowed


@settings(max_examples=300)
@given(value=st.text(max_size=30) | st.from_regex(r"\A\s*[0-9²³¹٣۳]{1,40}\s*\Z"))
def test_content_length_parsing_never_raises(value: str):
    length = content_length(value)
    text = value.strip()
    if text.isascii() and text.isdigit():
        assert length is not None and length >= min(int(text), 10**18)
    else:
        assert length is None


CONTENT_LENGTHS = ["²", "1²", "٣", "-1", " 12 ", "1e3", "9" * 40, "", "abc"]


def asgi_post(app: Any, body: bytes, length: str) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/suno/callback",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", length.encode()),
        ],
        "client": ("127.0.0.1", 5000),
    }

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def wsgi_post(app: Any, body: bytes, length: str) -> tuple[int, dict[str, Any]]:
    answer: list[Any] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/suno/callback",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": length,
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
    }
    content = b"".join(app(environ, lambda status, headers: answer.append(status)))
    return int(answer[0].split()[0]), json.loads(content)


@pytest.mark.parametrize("length", CONTENT_LENGTHS)
def test_malformed_content_length_gets_a_json_answer(length: str):
    body = encode(make_callback())
    for post, app in ((asgi_post, asgi_app), (wsgi_post, wsgi_app)):
        status, answer = post(
            app(unverified_receiver(store=MemoryStore(), max_body=4096)), body, length
        )
        assert status < 500 and set(answer) <= {"status", "error", "detail"}, (post, answer)
    django = DjangoTestClient(unverified_receiver(store=MemoryStore()), CONTENT_LENGTH=length)
    reply = django.post(body, {"Content-Type": "application/json"})
    assert reply.status < 500 and set(reply.body) <= {"status", "error", "detail"}


@pytest.mark.django_db(transaction=True)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.text(max_size=12))
def test_any_content_length_gets_a_json_answer(length: str):
    body = encode(make_callback())
    for post, app in ((asgi_post, asgi_app), (wsgi_post, wsgi_app)):
        try:
            length.encode("latin-1")
        except UnicodeEncodeError:
            continue  # not sendable as an HTTP header
        status, answer = post(app(unverified_receiver(store=MemoryStore())), body, length)
        assert status < 500 and set(answer) <= {"status", "error", "detail"}


def tampered(genuine: dict[str, Any]) -> st.SearchStrategy[bytes]:
    raw = encode(genuine)
    flipped = st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)).map(
        lambda change: raw[: change[0]] + bytes([raw[change[0]] ^ change[1]]) + raw[change[0] + 1 :]
    )
    edited = st.fixed_dictionaries(
        {},
        optional={
            "msg": st.text(max_size=10),
            "code": st.sampled_from([200, 400, 500, "200"]),
            "callbackType": st.sampled_from(["text", "first", "complete", "error", "x"]),
            "task_id": st.text(min_size=1, max_size=40),
            "audio_url": st.text(max_size=20),
        },
    ).map(lambda changes: encode(_apply(genuine, changes)))
    appended = st.binary(min_size=1, max_size=20).map(lambda extra: raw + extra)
    return st.one_of(flipped, edited, appended).filter(lambda body: body != raw)


def _apply(genuine: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(genuine))
    for name, value in changes.items():
        if name in ("msg", "code"):
            body[name] = value
        elif name == "audio_url":
            body["data"]["data"][0]["audio_url"] = value
        else:
            body["data"][name] = value
    return body


GENUINE = make_callback("music", "complete", task_id="5f3c9a0e7b2d4c6a8e1f3b5d7c9a0e2f")


@settings(max_examples=150, deadline=None)
@given(body=tampered(GENUINE), first=st.booleans())
def test_a_tampered_body_under_a_valid_signature_never_reaches_a_handler(body: bytes, first: bool):
    """Kie's signature covers the task id and timestamp, not the body: once the genuine body
    was seen, no other body passes with its headers; a changed task id never passes at all."""
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=MemoryStore())
    genuine = encode(GENUINE)
    headers = sign_headers(genuine, HMAC_KEY)
    handled: list[Event] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        handled.append(event)

    with callback_received.connected_to(handler):
        if first:
            assert receiver.handle(InboundRequest("POST", genuine, headers)).status == 200
        outcome = receiver.handle(InboundRequest("POST", body, headers))
    assert outcome.status < 500
    task_changed = _task_id(body) != GENUINE["data"]["task_id"]
    if first or task_changed:
        assert outcome.status in (400, 401), outcome.body
        assert [event.raw for event in handled] == ([GENUINE] if first else [])


def _task_id(body: bytes) -> str | None:
    try:
        found = probe(load_json(body))
    except Exception:
        return None
    return found.task_id
