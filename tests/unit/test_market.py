"""The market shape and the newer doc variants (DESIGN §10, spec §12), through the receiver and
through every adapter, with property tests on the `resultJson` decoding."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks import Event, Receiver, task_completed, task_failed, task_progress
from suno_hooks._callbacks.market import decode_result
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import probe
from suno_hooks.events import Stems
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode

from ..conftest import SECRET, Calls, fixture_bytes, fixture_json, unverified_receiver
from ..support.adapters import CallbackClient
from ..support.strategies import json_values

Factory = Callable[[Receiver], CallbackClient]
STEM_NAMES = {
    "origin",
    "instrumental",
    "vocal",
    "backing_vocals",
    "bass",
    "brass",
    "drums",
    "fx",
    "guitar",
    "keyboard",
    "percussion",
    "piano",
    "strings",
    "synth",
    "woodwinds",
}


def receive(body: bytes, feature: str | None = None, receiver: Receiver | None = None) -> Event:
    """POST one body to a fresh receiver and return the event its handlers saw."""
    seen: list[Event] = []
    receiver = receiver or unverified_receiver(store=MemoryStore())

    def record(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event)

    with (
        task_completed.connected_to(record),
        task_failed.connected_to(record),
        task_progress.connected_to(record),
    ):
        outcome = receiver.handle(InboundRequest("POST", body, feature=feature))
    assert outcome.status == 200, outcome.body
    assert len(seen) == 1
    return seen[0]


def market_body(**data: Any) -> bytes:
    return encode({"code": 200, "msg": "success", "data": {"taskId": "m" * 32, **data}})


def test_market_success_with_result_urls():
    event = receive(fixture_bytes("market.replace-section.success.json"), "replace_section")
    assert (event.kind, event.stage, event.status, event.ok) == (
        "music",
        "complete",
        "completed",
        True,
    )
    assert event.task_id == "5b0e9d4c8a7f41e3b2c6d1f09a8e7c35"
    assert event.result is not None and event.result["resultUrls"] == event.result_urls
    assert len(event.result_urls) == 2
    assert all(url.endswith(".mp3") for url in event.result_urls)
    assert event.model == "ai-music-api/replace-section"
    assert event.error is None and event.code == 200 and event.tracks == []
    assert event.dedupe_key == f"{event.task_id}:complete"


def test_market_failure_reads_fail_msg_and_code():
    event = receive(fixture_bytes("market.replace-section.fail.json"), "replace_section")
    assert (event.stage, event.status, event.ok) == ("error", "failed", False)
    assert event.code == 501 and event.code_info.meaning == "generation failed"
    assert event.error == "Generation failed due to technical issues"
    assert event.result is None and event.result_urls == []


def test_fail_code_fills_the_code_when_the_envelope_says_success():
    event = receive(fixture_bytes("market.sounds.record-info.fail.json"))
    assert (event.stage, event.status, event.code) == ("error", "failed", 500)
    assert event.code_info.retryable
    assert event.error == "Internal Error - Please try again later"


def test_market_progress_state_is_a_progress_stage_and_stale_after_the_end():
    receiver = unverified_receiver(store=MemoryStore())
    generating = fixture_bytes("market.replace-section.generating.json")
    event = receive(generating, receiver=receiver)
    assert (event.stage, event.status, event.is_terminal) == ("generating", "progress", False)
    receive(fixture_bytes("market.replace-section.success.json"), receiver=receiver)
    late = json.loads(generating)
    late["data"]["state"] = "queuing"
    outcome = receiver.handle(InboundRequest("POST", encode(late)))
    assert (outcome.status, outcome.body) == (200, {"status": "stale"})


def test_result_json_that_is_not_json_keeps_the_raw_text():
    event = receive(fixture_bytes("market.replace-section.result-not-json.json"))
    assert event.result is None and event.result_urls == []
    assert event.stage == "complete"
    raw = fixture_json("market.replace-section.result-not-json.json")
    assert event.raw["data"]["resultJson"] == raw["data"]["resultJson"]


def test_result_json_holding_a_list_or_a_scalar_is_none():
    for text in ("[1, 2]", '"text"', "42", "null", ""):
        event = receive(market_body(state="success", resultJson=text))
        assert event.result is None, text


def test_tracks_inside_the_result_fill_tracks():
    event = receive(fixture_bytes("market.generate.success-tracks.json"))
    assert event.kind == "music" and event.model == "ai-music-api/generate"
    assert [t.title for t in event.tracks] == ["Neon Rain", "霓虹雨"]
    track = event.tracks[0]
    assert track.audio_url and track.audio_url.endswith(".mp3")
    assert track.created_at is not None and track.created_at.tzinfo is not None
    assert track.duration == 187.36


def test_camel_case_tracks_of_a_polling_style_result_fill_tracks():
    result = {
        "response": {
            "sunoData": [{"id": "a1", "audioUrl": "https://x.test/a1.mp3", "modelName": "v5"}]
        }
    }
    event = receive(market_body(state="success", resultJson=json.dumps(result)))
    assert event.kind == "music"
    assert [(t.id, t.audio_url, t.model_name) for t in event.tracks] == [
        ("a1", "https://x.test/a1.mp3", "v5")
    ]


def test_result_of_another_family_fills_its_typed_attribute():
    wav = receive(
        market_body(state="success", resultJson=json.dumps({"audioWavUrl": "https://x.test/a.wav"}))
    )
    assert (wav.kind, wav.wav_url) == ("wav", "https://x.test/a.wav")
    lyrics = {"code": 200, "data": [{"text": "[Verse] la", "title": "La"}]}
    event = receive(market_body(state="success", resultJson=json.dumps(lyrics)))
    assert event.kind == "lyrics" and [v.title for v in event.lyrics] == ["La"]
    by_model = receive(market_body(state="fail", model="ai-music-api/generate-lyrics"))
    assert (by_model.kind, by_model.status) == ("lyrics", "failed")


def test_state_alone_is_never_midi():
    market = receive(market_body(state="success"))
    assert market.kind != "midi" and market.midi is None and market.stage == "complete"
    not_market = receive(market_body(state="complete"))
    assert not_market.kind != "midi" and not_market.midi is None
    real_midi = receive(fixture_bytes("midi.complete.json"))
    assert real_midi.kind == "midi" and real_midi.midi is not None


def test_record_info_answer_parses_like_a_callback():
    answer = fixture_json("market.sounds.record-info.success.json")
    callback = {"code": 200, "msg": "success", "data": answer["data"]}
    from_answer = build_event(probe(answer))
    from_callback = build_event(probe(callback))
    for event in (from_answer, from_callback):
        assert (event.kind, event.stage, event.status) == ("music", "complete", "completed")
        assert event.model == "ai-music-api/sounds" and len(event.result_urls) == 1
    assert from_answer.result == from_callback.result
    assert from_answer.msg == "success"


def test_lyrics_under_lyrics_data():
    event = receive(fixture_bytes("lyrics.complete.lyrics-data.json"))
    assert event.kind == "lyrics" and event.task_id == "3b66882fde0a5d398bd269cab6d9542b"
    assert [v.title for v in event.lyrics] == ["夜航星", "Paper Boats"]
    assert all(v.ok and v.error_message == "" for v in event.lyrics)


def test_camel_case_error_message_fills_error_message():
    event = receive(fixture_bytes("lyrics.complete.error-message-camel.json"))
    assert event.kind == "lyrics"
    failed = [v for v in event.lyrics if not v.ok]
    assert [v.error_message for v in failed] == ["Song Description flagged for moderation"]
    assert failed[0].model_extra == {}


def test_every_stem_is_typed_under_both_spellings():
    event = receive(fixture_bytes("vocal-removal.split-stem.complete.every-stem.json"))
    assert event.kind == "stems" and event.stems is not None
    assert set(event.stems.urls()) == STEM_NAMES
    assert event.stems.model_extra == {}
    snake = fixture_json("vocal-removal.split-stem.complete.every-stem.json")["data"]
    camel = {
        _camel(name): url for name, url in snake["vocal_separation_info"].items()
    }  # the polling record's spelling
    assert Stems.model_validate(camel) == event.stems


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def test_midi_failure_with_only_a_task_id_is_midi_when_the_feature_says_so():
    body = fixture_bytes("midi.error.json")
    assert receive(body).kind == "unknown"
    event = receive(body, feature="midi")
    assert (event.kind, event.status, event.code) == ("midi", "failed", 500)


def test_event_to_dict_carries_the_market_fields():
    event = receive(fixture_bytes("market.replace-section.success.json"))
    shown = json.loads(event.to_json())
    assert shown["result"] == event.result and shown["result_urls"] == event.result_urls
    assert (shown["model"], shown["source"]) == ("ai-music-api/replace-section", "callback")


MARKET_CASES = [
    ("market.replace-section.success.json", "replace_section", "completed"),
    ("market.replace-section.fail.json", "replace_section", "failed"),
    ("market.generate.success-tracks.json", "generate", "completed"),
    ("lyrics.complete.lyrics-data.json", "lyrics", "completed"),
    ("midi.error.json", "midi", "failed"),
]


def test_market_and_variants_through_every_adapter(client_factory: Factory, calls: Calls):
    receiver = Receiver(secret_key=SECRET, store=MemoryStore())
    client = client_factory(receiver)
    for name, feature, status in MARKET_CASES:
        url = receiver.callback_url("https://api.example.com/suno/callback", feature=feature)
        reply = client.post(fixture_bytes(name), query=url.split("?", 1)[1])
        assert (reply.status, reply.body) == (200, {"status": "received"}), name
        event = calls.events[-1]
        assert (event.feature, event.status) == (feature, status), name
    kinds = [event.kind for event in calls.events]
    assert kinds == ["music", "music", "music", "lyrics", "midi"]
    assert calls.events[0].result_urls and calls.events[2].tracks
    assert calls.events[3].lyrics and calls.events[1].error


result_texts = (
    st.text(max_size=200)
    | json_values.map(json.dumps)
    | st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth)
    | st.integers(1, 3000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth)
)


@settings(max_examples=150, deadline=None)
@given(value=result_texts | json_values)
def test_result_json_decoding_never_raises(value: Any):
    decoded = decode_result(value)
    assert decoded is None or isinstance(decoded, dict)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    result=result_texts | json_values,
    state=st.sampled_from(["success", "fail", "generating", "", "WAITING", None]),
    fail_code=st.sampled_from(["", "501", "²", "abc", 500, None]),
    model=st.sampled_from(["ai-music-api/generate", "ai-music-api/generate-lyrics", None, 7]),
)
def test_any_market_body_is_answered_without_a_500(
    result: Any, state: Any, fail_code: Any, model: Any
):
    body = market_body(state=state, resultJson=result, failCode=fail_code, model=model)
    outcome = unverified_receiver(store=MemoryStore()).handle(InboundRequest("POST", body))
    assert outcome.status == 200
    assert outcome.event is not None
    event = outcome.event
    assert event.result is None or isinstance(event.result, dict)
    assert all(isinstance(url, str) and url for url in event.result_urls)
