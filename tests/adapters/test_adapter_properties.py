"""Property-based, through every adapter: any body, content type or query gets a JSON answer
below 500, and only a body with a task id reaches a handler."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks import callback_received
from suno_hooks.stores import MemoryStore

from ..conftest import unverified_receiver
from ..support.adapters import ADAPTERS
from ..support.strategies import has_task_id, json_values

CONTENT_TYPES = [None, "application/json", "text/plain", "application/json; charset=latin-1", ""]


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_any_request_gets_a_bounded_json_answer(adapter: str):
    client = ADAPTERS[adapter](unverified_receiver(store=MemoryStore(), max_body=300))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()),
        content_type=st.sampled_from(CONTENT_TYPES),
        query=st.sampled_from(["", "token=", "token=abc.def", "a=1&a=2", "%ff=%fe"]),
    )
    def check(body: bytes, content_type: str | None, query: str) -> None:
        seen: list[Any] = []
        headers = {"Content-Type": content_type} if content_type is not None else {}
        with callback_received.connected_to(lambda sender, event, **kw: seen.append(event)):
            reply = client.post(body, headers, query=query)
        assert reply.status < 500
        assert reply.headers["content-type"].startswith("application/json")
        assert set(reply.body) <= {"status", "error", "detail"}
        if seen:
            assert reply.status == 200 and has_task_id(body) and len(body) <= 300

    check()
