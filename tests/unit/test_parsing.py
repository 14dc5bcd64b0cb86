"""Task-id lookup, stage detection and lenient coercion, with property-based tests."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import find_task_id, load_json, probe
from suno_hooks.errors import InvalidJSON, InvalidPayload
from suno_hooks.testing import make_callback

from ..support.strategies import json_values

TID = "65e563474bd7b6485dfb229eb92324a8"


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"task_id": TID}},
        {"data": {"taskId": TID}},
        {"task_id": TID, "data": {"state": "complete"}},
        {"taskId": TID},
        {"taskId": TID, "data": {"task_id": TID}},
        {"data": {"task_id": f"  {TID} "}},
    ],
)
def test_task_id_is_found_wherever_the_spec_puts_it(body: dict):
    assert find_task_id(body) == TID


def test_integer_task_id_is_accepted():
    assert find_task_id({"task_id": 12345}) == "12345"


@pytest.mark.parametrize(
    "body",
    [{}, {"data": None}, {"data": {"task_id": True}}, {"task_id": "x" * 129}, {"task_id": "a\nb"}],
)
def test_unusable_task_id_is_refused(body: dict):
    with pytest.raises(InvalidPayload):
        find_task_id(body)


def test_two_different_task_ids_are_ambiguous():
    with pytest.raises(InvalidPayload):
        find_task_id({"taskId": "a", "data": {"task_id": "b"}})


@pytest.mark.parametrize(
    ("callback_type", "code", "stage", "status"),
    [
        ("text", 200, "text", "progress"),
        ("FIRST", 200, "first", "progress"),
        (" Complete ", "200", "complete", "completed"),
        ("complete", 400, "error", "failed"),
        ("error", 501, "error", "failed"),
        ("task_completed", 200, "complete", "completed"),
        ("weird", 500, "weird", "failed"),
        (None, 200, "complete", "completed"),
        (None, 500, "error", "failed"),
        (None, "not a number", "complete", "completed"),
    ],
)
def test_stage_and_status(callback_type: Any, code: Any, stage: str, status: str):
    body: dict[str, Any] = {"code": code, "data": {"task_id": TID}}
    if callback_type is not None:
        body["data"]["callbackType"] = callback_type
    found = probe(body)
    assert (found.stage, found.status) == (stage, status)
    assert found.dedupe_key == f"{TID}:{stage}"


def test_lenient_track_fields():
    body = make_callback()
    tracks = body["data"]["data"]
    tracks[0].update(createTime=1758044664461, duration="198.44", title=42, tags=None)
    tracks[1].update(duration="not a number", createTime="yesterday", id={"nested": 1})
    tracks.append("not an object")
    event = build_event(probe(body))
    first, second = event.tracks
    assert first.created_at is not None and first.created_at.year == 2025
    assert first.duration == 198.44 and first.title == "42" and first.tags is None
    assert second.duration is None and second.created_at is None and second.id is None
    assert second.title == "Neon Rain (Take 2)"
    assert body["data"]["data"][2] == "not an object"


def test_data_data_shapes_never_break_parsing():
    for value in (None, [], "", {}, 3, [None, 1]):
        body = make_callback()
        body["data"]["data"] = value
        assert build_event(probe(body)).tracks == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_invalid_json_or_payload(body: bytes):
    try:
        found = probe(load_json(body))
    except (InvalidJSON, InvalidPayload):
        return
    build_event(found)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_arbitrary_json_parses_or_is_refused_cleanly(value: Any):
    raw = json.dumps(value).encode()
    try:
        found = probe(load_json(raw))
    except (InvalidJSON, InvalidPayload):
        return
    event = build_event(found, feature=None)
    assert event.task_id == found.task_id
    assert event.raw == value


@settings(max_examples=200, deadline=None)
@given(
    json_values,
    st.sampled_from([("data", "task_id"), ("data", "taskId"), ("task_id",), ("taskId",)]),
)
def test_body_with_a_task_id_always_builds_an_event(data: Any, path: tuple[str, ...]):
    body: dict[str, Any] = {"code": 200, "data": data if isinstance(data, dict) else {}}
    if len(path) == 2:
        body["data"] = {k: v for k, v in body["data"].items() if k not in ("task_id", "taskId")}
        body["data"][path[1]] = TID
    else:
        body.pop("data")
        body[path[0]] = TID
    event = build_event(probe(body))
    assert event.task_id == TID


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.sampled_from(
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M"]
    ),
    st.sampled_from(["", "Z", "+00:00", "+08:00", "-05:30"]),
)
def test_create_time_text_is_always_aware(moment: datetime, layout: str, zone: str):
    text = moment.strftime(layout) + zone
    body = make_callback()
    body["data"]["data"][0]["createTime"] = text
    created = build_event(probe(body)).tracks[0].created_at
    assert created is not None and created.tzinfo is not None
    expected = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=timezone.utc)
    assert created == expected
