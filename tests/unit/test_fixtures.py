"""Every fixture body is accepted and classified; the typed results carry the right values."""

from __future__ import annotations

from datetime import timezone

import pytest

from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore

from ..conftest import Calls, callback_files, fixture_bytes, fixture_json, unverified_receiver

# file -> (kind, stage, status, feature the caller would have put in the callback URL)
EXPECTED: dict[str, tuple[str, str, str, str | None]] = {
    "lyrics.error.json": ("lyrics", "error", "failed", "lyrics"),
    "midi.error.json": ("midi", "error", "failed", "midi"),
    "edge.callbacktype-unknown.json": ("music", "complete", "completed", None),
    "edge.verification-guide-example.json": ("music", "complete", "completed", None),
    "edge.lyrics-item-failed.json": ("lyrics", "complete", "completed", None),
    "edge.midi-empty-notes.json": ("midi", "complete", "completed", None),
    "market.replace-section.success.json": ("music", "complete", "completed", "replace_section"),
    "market.replace-section.fail.json": ("music", "error", "failed", "replace_section"),
    "market.replace-section.generating.json": ("music", "generating", "progress", None),
    "market.replace-section.result-not-json.json": ("music", "complete", "completed", None),
    "market.generate.success-tracks.json": ("music", "complete", "completed", None),
    "market.sounds.record-info.success.json": ("music", "complete", "completed", "sounds"),
    "market.sounds.record-info.fail.json": ("music", "error", "failed", None),
    "edge.status-failed-code-200.json": ("music", "error", "failed", None),
    "edge.status-success-record-shape.json": ("music", "complete", "completed", None),
}
KIND_BY_PREFIX = {
    "cover-image": "cover_image",
    "lyrics": "lyrics",
    "midi": "midi",
    "recovery": "recovery",
    "video": "video",
    "vocal-removal": "stems",
    "voice": "voice",
    "wav": "wav",
}


def expected(name: str) -> tuple[str, str, str, str | None]:
    if name in EXPECTED:
        return EXPECTED[name]
    parts = name.split(".")
    stage = parts[2] if name.startswith("vocal-removal.") else parts[1]
    if name.startswith("edge."):
        stage = {
            "error-data-null": "error",
            "error-no-data-key": "error",
            "image-url-null": "first",
            "text-data-null": "text",
        }.get(stage, "complete")
    kind = next((k for p, k in KIND_BY_PREFIX.items() if name.startswith(p)), "music")
    status = {"text": "progress", "first": "progress", "complete": "completed", "error": "failed"}
    return kind, stage, status[stage], None


@pytest.mark.parametrize("name", callback_files())
def test_fixture_is_accepted_and_classified(name: str, calls: Calls):
    kind, stage, status, feature = expected(name)
    receiver = unverified_receiver(store=MemoryStore())
    outcome = receiver.handle(InboundRequest("POST", fixture_bytes(name), feature=feature))
    assert outcome.status == 200, outcome.body
    event = calls.events[0]
    assert (event.kind, event.stage, event.status) == (kind, stage, status)
    assert event.ok is (status != "failed")
    assert event.raw == fixture_json(name)
    assert event.code_info.code == event.code
    assert event.received_at.tzinfo is not None


def event_of(name: str, feature: str | None = None):
    return build_event(probe(load_json(fixture_bytes(name))), feature=feature)


def test_generate_complete_tracks():
    event = event_of("generate.complete.json")
    assert event.task_id == "e51e0e30001ef86c31e0f8ecf6b5106b"
    assert len(event.tracks) == 2
    track = event.tracks[0]
    assert track.audio_url and track.audio_url.endswith(".mp3")
    assert track.created_at is not None and track.created_at.tzinfo == timezone.utc
    assert isinstance(track.duration, float)


def test_string_duration_is_coerced():
    assert isinstance(event_of("edge.duration-string.json").tracks[0].duration, float)


def test_unknown_fields_are_kept_on_tracks():
    track = event_of("edge.complete-extra-fields.json").tracks[0]
    assert track.model_extra is not None and track.model_extra["vocal_gender"] == "f"
    assert track.source_audio_url is not None


def test_null_urls_become_none():
    track = event_of("edge.image-url-null.json").tracks[0]
    assert track.image_url is None and track.stream_audio_url is None


def test_error_variants_carry_no_tracks_and_their_codes():
    refunded = event_of("edge.error-data-null.json")
    assert refunded.tracks == [] and refunded.code == 531
    assert refunded.code_info.credits_refunded and refunded.code_info.retryable
    assert (
        event_of("replace-section.error.json").error == "Generation failed due to technical issues"
    )
    assert event_of("replace-section.error.cn.json").tracks == []


def test_lyrics_variants():
    event = event_of("edge.lyrics-item-failed.json")
    assert [v.ok for v in event.lyrics].count(False) >= 1
    assert all(v.text is not None or not v.ok for v in event.lyrics)


def test_single_result_families():
    assert event_of("wav.complete.json").wav_url
    assert event_of("wav.error.json").wav_url is None
    stems = event_of("vocal-removal.split-stem.complete.removal-info.json").stems
    assert stems is not None and "drums" in stems.urls() and "origin" not in stems.urls()
    assert event_of("vocal-removal.separate-vocal.complete.json").stems is not None
    assert event_of("video.complete.json").video_url
    assert len(event_of("cover-image.complete.json").images) == 2
    assert event_of("cover-image.error.json").images == []
    recovered = event_of("recovery.complete.json").recovered
    assert [r.status for r in recovered] == ["success", "failed"]
    voice = event_of("voice-generate.complete.json").voice
    assert voice is not None and voice.voice_id
    assert event_of("voice-validate.error.json").voice.error_code == 500  # type: ignore[union-attr]


def test_midi_mixed_types():
    midi = event_of("midi.complete.json").midi
    assert midi is not None
    notes = [n for i in midi.instruments for n in i.notes]
    assert all(isinstance(n.start, float) and isinstance(n.end, float) for n in notes)
    empty = event_of("edge.midi-empty-notes.json").midi
    assert empty is not None and any(not i.notes for i in empty.instruments)
