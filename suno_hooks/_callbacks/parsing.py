"""A probed body to `Event`: the full, typed parse of each family's results (tracks, lyrics,
stems, MIDI, video, images, recovered tracks, voice) and of the market shape, run only for a
callback that will be dispatched. A field of a surprising type is coerced or dropped, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pydantic import TypeAdapter

from ..events import (
    Event,
    EventKind,
    EventSource,
    LyricsVariant,
    Midi,
    RecoveredTrack,
    Stems,
    Track,
    VoiceResult,
    flat_stems,
)
from .codes import code_info
from .kinds import kind_for_feature
from .lenient import validate_leniently
from .market import result_tracks, result_urls
from .probe import Probe

__all__ = ["build_event"]

_TRACKS: TypeAdapter[list[Track]] = TypeAdapter(list[Track])
_LYRICS: TypeAdapter[list[LyricsVariant]] = TypeAdapter(list[LyricsVariant])
_RECOVERED: TypeAdapter[list[RecoveredTrack]] = TypeAdapter(list[RecoveredTrack])
_STEMS: TypeAdapter[Stems] = TypeAdapter(Stems)
_MIDI: TypeAdapter[Midi] = TypeAdapter(Midi)
_VOICE: TypeAdapter[VoiceResult] = TypeAdapter(VoiceResult)


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _error_text(data: dict[str, Any]) -> str | None:
    for key in ("error", "errorMessage", "error_message"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def build_event(
    found: Probe,
    *,
    feature: str | None = None,
    context: dict[str, Any] | None = None,
    received_at: datetime | None = None,
    kind: EventKind | None = None,
    source: EventSource = "callback",
) -> Event:
    """The full, typed `Event` of a probed body; never raises for a field's type."""
    obj = found.obj
    data = obj.get("data")
    if kind is None:
        kind = kind_for_feature(feature) or found.kind
    inner: dict[str, Any] = data if type(data) is dict else {}
    msg = obj.get("msg")
    if msg is None:
        msg = obj.get("message")
    event = Event(
        found.task_id,
        kind,
        found.stage,
        found.status,
        found.code,
        msg if type(msg) is str else "" if msg is None else str(msg),
        code_info(found.code),
        found.dedupe_key,
        obj,
        feature,
        context,
        received_at or datetime.now(timezone.utc),
        source=source,
    )
    if found.market:
        _market(event, inner, found.result)
    elif inner:
        event.error = _error_text(inner)
        _RESULTS[kind](event, inner)
    elif kind == "recovery" and type(data) is list and data:
        event.recovered = validate_leniently(_RECOVERED, data)
    return event


def _market(event: Event, inner: dict[str, Any], result: dict[str, Any] | None) -> None:
    """Fill a market event: `result`, `result_urls`, `model`, `error`, and the family's typed
    results when the decoded result holds them."""
    event.result = result
    event.result_urls = result_urls(result)
    model = inner.get("model")
    event.model = model if type(model) is str and model else None
    failure = inner.get("failMsg")
    event.error = failure if type(failure) is str and failure else _error_text(inner)
    if result is None:
        return
    if event.kind not in ("music", "unknown"):
        _RESULTS[event.kind](event, result)
        return
    tracks = result_tracks(result)
    if tracks:
        event.tracks = validate_leniently(_TRACKS, tracks)


def _tracks(event: Event, inner: dict[str, Any]) -> None:
    items = inner.get("data")
    if type(items) is not list or not items:
        # A body in the polling record's shape: `response.sunoData`, camelCase.
        items = result_tracks(inner) if type(inner.get("response")) is dict else []
    if items:
        event.tracks = validate_leniently(_TRACKS, items)


def _lyrics(event: Event, inner: dict[str, Any]) -> None:
    items = inner.get("data")
    if items is None:
        items = inner.get("lyricsData")
    if type(items) is list and items:
        event.lyrics = validate_leniently(_LYRICS, items)


def _wav(event: Event, inner: dict[str, Any]) -> None:
    event.wav_url = _url(inner.get("audioWavUrl") or inner.get("audio_wav_url"))


def _stems(event: Event, inner: dict[str, Any]) -> None:
    info = inner.get("vocal_separation_info") or inner.get("vocal_removal_info")
    if type(info) is dict:
        # Flattened before validation, so a repair of one stem points at that stem.
        for key in ("origin_data", "originData"):
            if key in info:
                info = {**info, key: flat_stems(info[key])}
        event.stems = validate_leniently(_STEMS, info)


def _midi(event: Event, inner: dict[str, Any]) -> None:
    if "instruments" in inner or "state" in inner:
        event.midi = validate_leniently(_MIDI, inner)


def _video(event: Event, inner: dict[str, Any]) -> None:
    event.video_url = _url(inner.get("video_url") or inner.get("videoUrl"))


def _images(event: Event, inner: dict[str, Any]) -> None:
    images = inner.get("images")
    if type(images) is list:
        event.images = [url for url in images if isinstance(url, str) and url]


def _recovered(event: Event, inner: dict[str, Any]) -> None:
    items = inner.get("data")
    if type(items) is list and items:
        event.recovered = validate_leniently(_RECOVERED, items)


def _voice(event: Event, inner: dict[str, Any]) -> None:
    event.voice = validate_leniently(_VOICE, inner)


_RESULTS: dict[str, Callable[[Event, dict[str, Any]], None]] = {
    "music": _tracks,
    "unknown": _tracks,
    "lyrics": _lyrics,
    "wav": _wav,
    "stems": _stems,
    "midi": _midi,
    "video": _video,
    "cover_image": _images,
    "recovery": _recovered,
    "voice": _voice,
}
