"""The testing toolkit and its pytest fixtures, and `Receiver.from_env`."""

from __future__ import annotations

from typing import Any

import pytest

from suno_hooks import Receiver
from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import InboundRequest
from suno_hooks.parsing import build_event, probe
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import STAGES, encode


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
    receiver = Receiver(store=MemoryStore())
    outcome = receiver.handle(
        InboundRequest("POST", encode({"taskId": "x"}), {"CONTENT-TYPE": "application/json"})
    )
    assert outcome.status == 200
