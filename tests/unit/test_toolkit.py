"""The testing toolkit and its pytest fixtures, and `Receiver.from_env`."""

from __future__ import annotations

import time
from typing import Any

import pytest

from suno_hooks import Receiver, callback_received
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import probe
from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import STAGES, CapturedEvents, capture_events, encode, make_callback

from ..conftest import HMAC_KEY, unverified_receiver
from ..support.adapters import ADAPTERS


def test_plugin_fixtures_build_and_sign(make_callback: Any, sign_headers: Any):
    body = make_callback("wav", "complete", task_id="abc")
    headers = sign_headers(body, "key", 1_700_000_000)
    assert headers["X-Webhook-Timestamp"] == "1700000000"
    assert len(headers["X-Webhook-Signature"]) == 44


@pytest.mark.parametrize(
    ("kind", "stage"), [(k, s) for k, stages in STAGES.items() for s in stages]
)
def test_every_kind_and_stage_builds_a_matching_event(make_callback: Any, kind: str, stage: str):
    body = make_callback(kind, stage)
    feature = kind if kind in ("lyrics", "midi") else None
    event = build_event(probe(body), feature=feature)
    assert event.kind == kind
    assert event.stage == stage
    assert event.ok is (stage != "error")


def test_make_callback_field_overrides(make_callback: Any):
    body = make_callback(code=531, callbackType="COMPLETE")
    assert body["code"] == 531 and body["data"]["callbackType"] == "COMPLETE"
    with pytest.raises(ValueError, match="stages"):
        make_callback("wav", "first")


def test_from_env():
    receiver = Receiver.from_env(
        {
            "SUNO_HOOKS_HMAC_KEYS": "new-key, old-key",
            "SUNO_HOOKS_SECRET_KEY": "s",
            "SUNO_HOOKS_STORE": "memory://",
            "SUNO_HOOKS_TOLERANCE": "60",
        }
    )
    assert receiver.require == "signature"
    assert receiver.verifier is not None and receiver.verifier.tolerance == 60
    assert isinstance(receiver.store, MemoryStore)
    with pytest.raises(ConfigurationError):
        Receiver.from_env({"SUNO_HOOKS_STORE": "nope://x"})
    with pytest.raises(ConfigurationError):
        Receiver.from_env({"SUNO_HOOKS_REQUIRE": "token"})


def test_handle_accepts_mixed_case_header_mapping():
    receiver = unverified_receiver(store=MemoryStore())
    outcome = receiver.handle(
        InboundRequest("POST", encode({"taskId": "x"}), {"CONTENT-TYPE": "application/json"})
    )
    assert outcome.status == 200


def test_the_same_arguments_give_the_same_body(suno_make_callback: Any):
    for kind, stages in STAGES.items():
        for stage in stages:
            assert suno_make_callback(kind, stage, "t1") == suno_make_callback(kind, stage, "t1")
    first, complete = (
        suno_make_callback(stage="first", task_id="t1"),
        suno_make_callback(task_id="t1"),
    )
    assert first["data"]["data"][0]["id"] == complete["data"]["data"][0]["id"]
    assert suno_make_callback(task_id="t2") != complete
    assert suno_make_callback()["data"]["task_id"] != suno_make_callback()["data"]["task_id"]


@pytest.mark.parametrize("adapter", ["wsgi", "starlette"])
def test_a_resend_within_the_same_second_is_a_duplicate(
    adapter: str, suno_make_callback: Any, suno_sign_headers: Any, suno_events: CapturedEvents
):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=MemoryStore())
    client = ADAPTERS[adapter](receiver)
    now = int(time.time())
    answers = []
    for _ in range(2):
        body = encode(suno_make_callback(task_id="resend-me"))
        answers.append(client.post(body, suno_sign_headers(body, HMAC_KEY, now)))
    assert [(a.status, a.body) for a in answers] == [
        (200, {"status": "received"}),
        (200, {"status": "duplicate"}),
    ]
    assert [e.dedupe_key for e in suno_events] == ["resend-me:complete"]
    assert suno_events.completed == suno_events.of_task("resend-me")


def test_suno_events_sees_every_sender_and_only_this_test(suno_events: CapturedEvents):
    assert suno_events == []
    for sender in (unverified_receiver(store=MemoryStore()), object()):
        callback_received.send(sender, event=build_event(probe(make_callback(task_id="x"))))
    assert len(suno_events) == 2 and suno_events.of_task("y") == []
    with capture_events() as inner:
        callback_received.send(None, event=build_event(probe(make_callback("wav", "error", "y"))))
    assert [e.kind for e in inner] == ["wav"] and len(suno_events) == 3
    assert suno_events.completed == suno_events[:2]
