"""Property-based: no input makes the receiver answer 500 or reach a handler without a task id."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks import Receiver, callback_received
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import unverified_receiver
from ..support.strategies import has_task_id, json_values

KEY = "k"


def deliver(receiver: Receiver, body: bytes, headers: dict[str, str] | None = None):
    seen: list[Any] = []
    with callback_received.connected_to(lambda s, event, **k: seen.append(event)):
        outcome = receiver.handle(InboundRequest("POST", body, headers or {}))
    return outcome, seen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_unsigned_receiver_never_500s_and_only_dispatches_task_ids(body: bytes):
    outcome, seen = deliver(unverified_receiver(store=MemoryStore()), body)
    assert outcome.status < 500
    assert set(outcome.body) <= {"status", "error", "detail"}
    if seen:
        assert has_task_id(body) and outcome.status == 200
    elif outcome.status == 200:
        raise AssertionError("accepted without dispatch on a fresh store")


@settings(max_examples=200, deadline=None)
@given(json_values, st.text(max_size=60), st.text(max_size=20))
def test_signed_receiver_never_dispatches_forged_bodies(value: Any, signature: str, stamp: str):
    receiver = Receiver(hmac_keys=[KEY], store=MemoryStore())
    headers = {"X-Webhook-Signature": signature, "X-Webhook-Timestamp": stamp}
    outcome, seen = deliver(receiver, json.dumps(value).encode(), headers)
    assert outcome.status in (400, 401)
    assert seen == []


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_genuine_signed_callbacks_with_any_extra_data_are_dispatched(extra: Any):
    body = make_callback(extra=extra)
    raw = encode(body)
    outcome, seen = deliver(
        Receiver(hmac_keys=[KEY], store=MemoryStore()),
        raw,
        sign_headers(raw, KEY, int(time.time())),
    )
    assert outcome.status == 200, outcome.body
    assert len(seen) == 1 and seen[0].raw == body
