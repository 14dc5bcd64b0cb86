"""Polling records (spec §8, §12.1) become the callback bodies the receiver reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.poll_records import LOST_CODE, callback_body, lost_body
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks.client import FEATURES
from suno_hooks.stores import MemoryStore

from ..conftest import unverified_receiver

TRACK = {
    "id": "a1",
    "audioUrl": "https://f.example/a1.mp3",
    "streamAudioUrl": "https://f.example/s/a1",
    "imageUrl": "https://f.example/a1.jpg",
    "modelName": "chirp-v4",
    "title": "Song",
    "createTime": "2025-01-01 00:00:00",
    "duration": 198.44,
}


def answer(data: Any, code: int = 200) -> dict[str, Any]:
    return {"code": code, "msg": "success", "data": data}


def event_of(task_id: str, feature: str, data: Any, code: int = 200):
    body = callback_body(task_id, feature, answer(data, code))
    assert body is not None
    found = probe(load_json(json.dumps(body).encode()))
    assert found.task_id == task_id
    return build_event(found, feature=feature)


def test_music_success_becomes_a_complete_callback_with_snake_case_tracks():
    record = {"taskId": "t1", "status": "SUCCESS", "response": {"sunoData": [TRACK, TRACK]}}
    event = event_of("t1", "replace_section", record)
    assert (event.stage, event.status, event.kind) == ("complete", "completed", "music")
    assert event.tracks[0].audio_url == TRACK["audioUrl"]
    assert event.tracks[0].model_name == "chirp-v4" and event.tracks[0].duration == 198.44


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("GENERATE_AUDIO_FAILED", 501, 501),
        ("CREATE_TASK_FAILED", None, 501),
        ("SENSITIVE_WORD_ERROR", None, 400),
        ("FAILED", 413, 413),
    ],
)
def test_music_failures_become_error_callbacks(status, code, expected):
    record = {"status": status, "errorCode": code, "errorMessage": "生成失败", "response": {}}
    event = event_of("t2", "generate", record)
    assert (event.stage, event.status, event.code, event.error) == (
        "error",
        "failed",
        expected,
        "生成失败",
    )


@pytest.mark.parametrize(
    "status", ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "GENERATING", 7, None]
)
def test_running_music_records_give_nothing(status):
    assert callback_body("t", "generate", answer({"status": status})) is None


def test_callback_exception_with_tracks_is_the_lost_result():
    record = {"status": "CALLBACK_EXCEPTION", "response": {"sunoData": [TRACK]}}
    assert event_of("t", "extend", record).stage == "complete"
    assert event_of("t", "extend", {"status": "CALLBACK_EXCEPTION"}).stage == "error"


def test_lyrics_items_keep_their_error_message():
    items = [{"text": "[Verse]", "title": "A", "status": "complete", "errorMessage": ""}]
    event = event_of("l1", "lyrics", {"status": "SUCCESS", "response": {"data": items}})
    assert (event.kind, event.stage, event.lyrics[0].title) == ("lyrics", "complete", "A")
    failed = event_of("l1", "lyrics", {"status": "SENSITIVE_WORD_ERROR", "response": {"data": []}})
    assert (failed.stage, failed.code) == ("error", 400)


@pytest.mark.parametrize("flag", ["SUCCESS", 1, "1"])
def test_single_result_families_with_string_or_integer_flags(flag):
    cases = {
        "wav": ({"response": {"audioWavUrl": "https://f.example/a.wav"}}, "wav_url"),
        "video": ({"response": {"videoUrl": "https://f.example/v.mp4"}}, "video_url"),
        "cover_image": ({"response": {"images": ["https://f.example/1.png"]}}, "images"),
    }
    for feature, (record, attribute) in cases.items():
        event = event_of("s1", feature, record | {"successFlag": flag})
        assert event.stage == "complete" and getattr(event, attribute), feature


def test_stems_and_midi_records():
    stems = {"instrumentalUrl": "https://f/i.mp3", "vocalUrl": "https://f/v.mp3", "pianoUrl": "p"}
    event = event_of("st", "stems", {"successFlag": "SUCCESS", "response": {"id": "x"} | stems})
    assert event.stems is not None and event.stems.vocal_url == "https://f/v.mp3"
    notes = [{"pitch": 60, "start": 0.5, "end": 1.0, "velocity": 0.8}]
    midi = {
        "successFlag": 1,
        "midiData": {"state": "complete", "instruments": [{"name": "Piano", "notes": notes}]},
    }
    event = event_of("m1", "midi", midi)
    assert (
        event.kind == "midi"
        and event.midi is not None
        and event.midi.instruments[0].name == "Piano"
    )
    assert callback_body("m1", "midi", answer({"successFlag": 0})) is None
    assert event_of("m1", "midi", {"successFlag": 3, "errorCode": "500"}).stage == "error"
    assert callback_body("c1", "cover_image", answer({"successFlag": 2})) is None


def test_market_records_pass_through_in_the_callback_shape():
    result = json.dumps({"resultUrls": ["https://f.example/r.mp3"]})
    record = {
        "taskId": "mk",
        "state": "success",
        "resultJson": result,
        "model": "ai-music-api/sounds",
    }
    event = event_of("mk", "ai-music-api/sounds", record)
    assert (event.stage, event.result_urls, event.model) == (
        "complete",
        ["https://f.example/r.mp3"],
        "ai-music-api/sounds",
    )
    failed = event_of(
        "mk", "ai-music-api/sounds", {"state": "fail", "failCode": "531", "failMsg": "no"}
    )
    assert (failed.stage, failed.code, failed.error) == ("error", 531, "no")
    for state in ("waiting", "queuing", "generating"):
        assert callback_body("mk", "ai-music-api/sounds", answer({"state": state})) is None


def test_recovery_and_voice_records():
    assert callback_body("r", "recovery", {"code": 201, "msg": "running", "data": None}) is None
    tracks = [{"id": "1", "audio_url": "https://f/1.m4a", "status": "success"}]
    recovered = callback_body("r", "recovery", answer(tracks))
    assert recovered is not None and build_event(probe(recovered), feature="recovery").recovered
    voice = event_of(
        "v", "voice_generate", {"taskId": "v", "status": "success", "voiceId": "voice_1"}
    )
    assert voice.voice is not None and voice.voice.voice_id == "voice_1"
    assert callback_body("v", "voice_generate", answer({"status": "wait_processing"})) is None
    # A record field that names a market state does not make a finished voice task read as one
    # still generating.
    finished = event_of("v", "voice_generate", {"status": "SUCCESS", "state": "GENERATING"})
    assert (finished.stage, finished.status) == ("complete", "completed")


def test_a_lost_task_is_a_timeout_failure():
    event = build_event(probe(lost_body("gone", 86400)), feature="lyrics")
    assert (event.stage, event.status, event.code, event.kind) == (
        "error",
        "failed",
        LOST_CODE,
        "lyrics",
    )
    assert "timed out" in event.code_info.meaning and "86400 s" in event.msg


RECORD_KEYS = ["status", "successFlag", "state", "response", "sunoData", "data", "errorCode",
               "errorMessage", "failCode", "failMsg", "resultJson", "midiData", "audioUrl",
               "images", "taskId", "task_id"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 600) | st.text(max_size=12)
    | st.sampled_from(["SUCCESS", "PENDING", "GENERATE_AUDIO_FAILED", "CALLBACK_EXCEPTION",
                       "success", "fail", "generating", "1", "3"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(RECORD_KEYS), inner, max_size=5),
    max_leaves=12,
)  # fmt: skip
FEATURE_NAMES = [*sorted(FEATURES), "ai-music-api/generate"]


@given(
    feature=st.sampled_from(FEATURE_NAMES),
    code=st.sampled_from([200, 201, 500, 501]),
    data=json_values,
)
def test_any_record_gives_nothing_or_a_terminal_body_for_the_same_task(feature, code, data):
    body = callback_body("the-task", feature, {"code": code, "msg": "m", "data": data})
    if body is None:
        return
    found = probe(load_json(json.dumps(body).encode()))
    assert found.task_id == "the-task" and found.stage in ("complete", "error")
    build_event(found, feature=feature)


@pytest.mark.usefixtures("calls")  # a handler hears it, so the delivery is done
def test_the_receiver_dispatches_a_polled_record_once():
    receiver = unverified_receiver(store=MemoryStore())
    record = {"status": "SUCCESS", "response": {"sunoData": [TRACK]}}
    body = callback_body("t9", "generate", answer(record))
    assert body is not None
    first = receiver.deliver(body, feature="generate", source="poll")
    again = receiver.deliver(body, feature="generate", source="poll")
    assert first.body == {"status": "received"} and first.event is not None
    assert first.event.source == "poll" and again.body == {"status": "duplicate"}
