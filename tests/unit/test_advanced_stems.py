"""Advanced stem splits become typed stems, from the callback's extract/remove pairs and from the
polling record's flat list; a body whose own status says it failed is never completed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suno_hooks import Stem, Stems
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.poll_records import callback_body
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks.stores import MemoryStore

from ..conftest import fixture_bytes, fixture_json, unverified_receiver

TID = "8a3f5c7e9b1d4f6a8c0e2b4d6f8a0c2e"


def event_of(name: str, feature: str | None = None):
    return build_event(probe(load_json(fixture_bytes(name))), feature=feature)


def test_the_callback_pairs_are_typed_stems_with_their_side():
    stems = event_of("vocal-removal.split-stem-advanced.complete.json").stems
    assert stems is not None
    extract, remove = stems.origin_data
    assert all(isinstance(stem, Stem) for stem in stems.origin_data)
    assert (extract.side, remove.side) == ("extract", "remove")
    assert extract.id == "0f6a1c2e-8b3d-4e5f-9a7b-1c2d3e4f5a6b"
    assert extract.duration == 182.64 and remove.stem_type_group_name == "Lead Vocal"
    assert stems.urls() == {
        "lead_vocal_extract": extract.audio_url,
        "lead_vocal_remove": remove.audio_url,
    }
    assert stems.model_extra == {}


def test_the_polling_record_list_is_typed_stems_too():
    body = callback_body(
        TID, "stems", fixture_json("api/vocal-removal.record-info.origin-data.json")
    )
    assert body is not None
    event = build_event(probe(body), feature="stems", source="poll")
    assert event.stems is not None
    lead, drums = event.stems.origin_data
    assert (lead.name, lead.side, lead.duration) == ("lead_vocal", None, 182.64)
    assert lead.music_id == "e3225e2d-16ec-4f5c-9dcc-16fd548631e1"
    assert drums.stem_type_group_name == "Drums" and drums.id
    assert set(event.stems.urls()) == {"lead_vocal", "drums"}


def test_the_receiver_hands_typed_stems_to_the_handler(calls):
    receiver = unverified_receiver(store=MemoryStore())
    outcome = receiver.deliver(
        load_json(fixture_bytes("vocal-removal.split-stem-advanced.complete.json"))
    )
    assert outcome.status == 200
    (event,) = calls.events
    assert event.stems is not None and len(event.stems.origin_data) == 2
    dumped = event.to_dict()["stems"]["origin_data"]
    assert [stem["side"] for stem in dumped] == ["extract", "remove"]


def test_a_status_that_says_failed_is_never_completed():
    event = event_of("edge.status-failed-code-200.json")
    assert (event.stage, event.status, event.ok) == ("error", "failed", False)
    assert event.code == 501 and not event.code_info.meaning.startswith("success")
    assert event.error == "生成失败,请重试或联系客服"
    tracks = event_of("edge.status-success-record-shape.json").tracks
    assert [t.title for t in tracks] == ["夜色 Night Lights"] and tracks[0].audio_url


def test_kie_voice_examples():
    done = event_of("voice-generate.complete.kie.json")
    assert done.ok and done.voice is not None and done.voice.error_code is None
    failed = event_of("voice-generate.error.kie.json")
    assert (failed.status, failed.code, failed.kind) == ("failed", 500, "voice")
    assert failed.voice is not None and failed.voice.voice_id is None


# -- properties ------------------------------------------------------------------------------------

leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
stem_objects = st.dictionaries(
    st.sampled_from(["id", "audio_url", "audioUrl", "duration", "stem_type_group_name",
                     "stemTypeGroupName", "musicId", "side", "x"]),
    leaf | st.lists(leaf, max_size=2),
    max_size=6,
)  # fmt: skip
sides = st.fixed_dictionaries(
    {}, optional={"extract": stem_objects | leaf, "remove": stem_objects | leaf}
)
origin_items = st.lists(sides | stem_objects | leaf, max_size=6)


def _expected_count(items: list[Any]) -> int:
    count = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        if "extract" in item or "remove" in item:
            count += sum(isinstance(item.get(side), dict) for side in ("extract", "remove"))
        else:
            count += 1
    return count


@settings(max_examples=300, deadline=None)
@given(items=origin_items, key=st.sampled_from(["vocal_removal_info", "vocal_separation_info"]))
def test_any_origin_data_gives_one_typed_stem_per_side(items, key):
    body = {"code": 200, "msg": "ok", "data": {"task_id": TID, key: {"origin_data": items}}}
    event = build_event(probe(load_json(json.dumps(body).encode())), feature="stems")
    assert event.stems is not None
    stems = event.stems.origin_data
    assert len(stems) == _expected_count(items)
    assert all(stem.side in (None, "extract", "remove") for stem in stems)
    urls = event.stems.urls()
    with_audio = [stem.audio_url for stem in stems if stem.audio_url]
    assert len(urls) == len(with_audio) and sorted(urls.values()) == sorted(with_audio)
    assert Stems.model_validate(event.stems.model_dump()).origin_data == stems


@settings(max_examples=200, deadline=None)
@given(items=st.lists(stem_objects | leaf, max_size=6), flag=st.sampled_from(["SUCCESS", 1]))
def test_any_polled_origin_data_reaches_the_event(items, flag):
    record = {"successFlag": flag, "response": {"id": "x", "originData": items}}
    body = callback_body(TID, "stems", {"code": 200, "msg": "success", "data": record})
    assert body is not None
    event = build_event(probe(load_json(json.dumps(body).encode())), feature="stems")
    found = event.stems.origin_data if event.stems is not None else []
    assert len(found) == _expected_count(items)


failed_words = st.sampled_from(
    ["FAILED", "GENERATE_AUDIO_FAILED", "CREATE_TASK_FAILED", "SENSITIVE_WORD_ERROR", "fail",
     "generate_wav_failed", "Error"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    status=failed_words,
    where=st.sampled_from([("data", "status"), ("data", "successFlag"), ("status",)]),
    code=st.sampled_from([200, 0, "200", 400, 501, 531, None]),
    callback_type=st.sampled_from([None, "complete", "text", "first", "task_completed", "error"]),
    error_code=st.sampled_from([None, 0, 200, 413, "451", "x"]),
)
def test_a_body_whose_status_says_failed_is_never_completed(
    status, where, code, callback_type, error_code
):
    data: dict[str, Any] = {"taskId": TID, "errorCode": error_code}
    body: dict[str, Any] = {"code": code, "msg": "success", "data": data}
    if callback_type is not None:
        data["callbackType"] = callback_type
    (data if where[0] == "data" else body)[where[-1]] = status
    found = probe(load_json(json.dumps(body).encode()))
    event = build_event(found, feature="generate")
    assert (event.stage, event.status, event.ok) == ("error", "failed", False)
    assert event.code not in (0, 200)
    if code in (400, 501, 531):
        assert event.code == code
    elif error_code in (413, "451"):
        assert event.code == int(error_code)


@pytest.mark.parametrize("status", ["SUCCESS", "success", "PENDING", "CALLBACK_EXCEPTION", 3, None])
def test_a_status_that_does_not_say_failed_keeps_the_code(status):
    body = {"code": 200, "data": {"taskId": TID, "status": status}}
    assert probe(body).status == "completed"


camel_tracks = st.lists(
    st.fixed_dictionaries(
        {"audioUrl": st.text(min_size=1, max_size=20)},
        optional={"id": leaf, "title": leaf, "duration": leaf, "modelName": leaf, "x": leaf},
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(tracks=camel_tracks, status=st.sampled_from(["SUCCESS", "success", None]))
def test_a_body_in_the_record_shape_gives_its_tracks(tracks, status):
    data = {"taskId": TID, "status": status, "response": {"taskId": TID, "sunoData": tracks}}
    event = build_event(probe(load_json(json.dumps({"code": 200, "data": data}).encode())))
    assert (event.kind, event.status) == ("music", "completed")
    assert [t.audio_url for t in event.tracks] == [t["audioUrl"] for t in tracks]
