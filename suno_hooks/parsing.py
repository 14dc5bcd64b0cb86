"""Bytes to `Event`: JSON loading, task-id lookup, stage and family detection, lenient models.

Two steps on purpose: `probe` is the cheap part (JSON, task id, stage) that verification and
de-duplication need; `build_event` is the full model parse, run only for a callback that will be
dispatched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from .codes import SUCCESS_CODES, code_info
from .errors import InvalidJSON, InvalidPayload
from .events import (
    Event,
    EventKind,
    EventStatus,
    LyricsVariant,
    Midi,
    RecoveredTrack,
    Stems,
    Track,
    VoiceResult,
)

__all__ = [
    "FEATURE_KINDS",
    "Probe",
    "build_event",
    "dedupe_key",
    "detect_kind",
    "find_task_id",
    "kind_for_feature",
    "load_json",
    "probe",
]

MAX_TASK_ID_LENGTH = 128

# Where the task id sits, in the spec's lookup order (§10.1).
_TASK_ID_PATHS: tuple[tuple[str, ...], ...] = (
    ("data", "task_id"),
    ("data", "taskId"),
    ("task_id",),
    ("taskId",),
)

FEATURE_KINDS: dict[str, EventKind] = {
    **dict.fromkeys(
        (
            "music",
            "generate",
            "extend",
            "upload_cover",
            "upload_extend",
            "add_instrumental",
            "add_vocals",
            "mashup",
            "sounds",
            "replace_section",
        ),
        "music",
    ),
    "lyrics": "lyrics",
    "wav": "wav",
    **dict.fromkeys(("stems", "vocal_removal", "separate_vocal", "split_stem"), "stems"),
    "midi": "midi",
    "video": "video",
    "mp4": "video",
    "cover_image": "cover_image",
    "recovery": "recovery",
    **dict.fromkeys(("voice", "voice_validate", "voice_regenerate", "voice_generate"), "voice"),
}

_STAGE_STATUS: dict[str, EventStatus] = {
    "text": "progress",
    "first": "progress",
    "complete": "completed",
    "error": "failed",
}


def load_json(body: bytes) -> dict[str, Any]:
    """Parse a body that must be a JSON object, or raise `InvalidJSON`."""
    try:
        # Keys repeat between callbacks, values almost never: caching only keys is fastest.
        obj = from_json(body, cache_strings="keys")
    except ValueError:
        raise InvalidJSON("The request body is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise InvalidJSON("The request body must be a JSON object.")
    return obj


def _task_id_value(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        digits = str(value)
        return digits if len(digits) <= MAX_TASK_ID_LENGTH else None
    if isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= MAX_TASK_ID_LENGTH and text.isprintable():
            return text
    return None


def find_task_id(obj: dict[str, Any]) -> str:
    """The task id of a callback body, looked up in the spec's order; two different ids refuse."""
    data = obj.get("data")
    if type(data) is dict and "taskId" not in data and "task_id" not in obj and "taskId" not in obj:
        only = data.get("task_id")
        if type(only) is str and 0 < len(only) <= MAX_TASK_ID_LENGTH and only.isalnum():
            return only
    found: str | None = None
    for path in _TASK_ID_PATHS:
        if len(path) == 2:
            if not isinstance(data, dict):
                continue
            value = _task_id_value(data.get(path[1]))
        else:
            value = _task_id_value(obj.get(path[0]))
        if value is None:
            continue
        if found is None:
            found = value
        elif value != found:
            raise InvalidPayload("The callback carries two different task ids.")
    if found is None:
        raise InvalidPayload("The callback carries no usable task id.")
    return found


def _code(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except (ValueError, OverflowError):
            return 0
    return 0


@dataclass(slots=True)
class Probe:
    """What is known about a body before the full parse: enough to verify and de-duplicate."""

    obj: dict[str, Any]
    task_id: str
    stage: str
    status: EventStatus
    code: int
    dedupe_key: str
    kind: EventKind
    """The family the body's shape shows; a feature named by the route or token takes precedence."""


def dedupe_key(task_id: str, stage: str) -> str:
    """The idempotency key for one stage of one task."""
    return f"{task_id}:{stage}"


def probe(obj: dict[str, Any]) -> Probe:
    """Find the task id, stage and code of a parsed body (cheap; no model validation)."""
    task_id = find_task_id(obj)
    code = _code(obj.get("code"))
    data = obj.get("data")
    raw_type = data.get("callbackType") if type(data) is dict else None
    success = code in SUCCESS_CODES
    stage = raw_type.strip().lower()[:64] if type(raw_type) is str else ""
    if not stage or (stage == "complete" and not success):
        stage = "complete" if success else "error"
    status = _STAGE_STATUS.get(stage) or ("completed" if success else "failed")
    kind = _kind_from_shape(data)
    return Probe(obj, task_id, stage, status, code, dedupe_key(task_id, stage), kind)


def kind_for_feature(feature: str | None) -> EventKind | None:
    """The family a feature name belongs to (`"replace-section"` → `"music"`), if known."""
    if not feature:
        return None
    return FEATURE_KINDS.get(feature.strip().lower().replace("-", "_"))


def detect_kind(obj: dict[str, Any], feature: str | None = None) -> EventKind:
    """The family of a body: from the feature when known, else from the body's shape."""
    return kind_for_feature(feature) or _kind_from_shape(obj.get("data"))


def _kind_from_shape(data: Any) -> EventKind:
    if isinstance(data, list):
        return "recovery"
    if not isinstance(data, dict):
        return "unknown"
    if "callbackType" in data:
        items = data.get("data")
        if isinstance(items, list) and items and isinstance(items[0], dict):
            first = items[0]
            if "text" in first and "audio_url" not in first:
                return "lyrics"
        return "music"
    for keys, kind in _SHAPE_KEYS:
        if any(key in data for key in keys):
            return kind
    if isinstance(data.get("data"), list):
        return "music"
    return "unknown"


_SHAPE_KEYS: tuple[tuple[tuple[str, ...], EventKind], ...] = (
    (("audioWavUrl", "audio_wav_url"), "wav"),
    (("vocal_separation_info", "vocal_removal_info"), "stems"),
    (("instruments", "state"), "midi"),
    (("video_url", "videoUrl"), "video"),
    (("images",), "cover_image"),
    (("voiceId", "validateInfo"), "voice"),
)

_M = TypeVar("_M")

_TRACKS: TypeAdapter[list[Track]] = TypeAdapter(list[Track])
_LYRICS: TypeAdapter[list[LyricsVariant]] = TypeAdapter(list[LyricsVariant])
_RECOVERED: TypeAdapter[list[RecoveredTrack]] = TypeAdapter(list[RecoveredTrack])
_STEMS: TypeAdapter[Stems] = TypeAdapter(Stems)
_MIDI: TypeAdapter[Midi] = TypeAdapter(Midi)
_VOICE: TypeAdapter[VoiceResult] = TypeAdapter(VoiceResult)

_MAX_REPAIRS = 8


def _validate(adapter: TypeAdapter[_M], value: Any) -> _M:
    """Validate leniently: a field that cannot be coerced is dropped (so it becomes `None`),
    a list item that is not an object is skipped; nothing raises."""
    # The adapter's own `validate_python` adds keyword handling that costs a tenth of the work.
    validate = adapter.validator.validate_python
    try:
        return cast(_M, validate(value))
    except ValidationError as first_error:
        error: ValidationError = first_error
    value = copy.deepcopy(value)
    for _ in range(_MAX_REPAIRS):
        _drop_invalid(value, error)
        try:
            return cast(_M, validate(value))
        except ValidationError as again:
            error = again
    return cast(_M, validate([] if isinstance(value, list) else {}))


def _drop_invalid(value: Any, error: ValidationError) -> None:
    removals: dict[int, tuple[Any, list[Any]]] = {}
    for detail in error.errors():
        loc = detail["loc"]
        if not loc:
            continue
        parent = value
        for step in loc[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        last = loc[-1]
        if isinstance(parent, dict):
            parent.pop(last, None)
        elif isinstance(parent, list) and isinstance(last, int):
            removals.setdefault(id(parent), (parent, []))[1].append(last)
    for parent, indexes in removals.values():
        for index in sorted(set(indexes), reverse=True):
            if index < len(parent):
                del parent[index]


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
) -> Event:
    """The full, typed `Event` of a probed body; never raises for a field's type."""
    obj = found.obj
    data = obj.get("data")
    if kind is None:
        kind = kind_for_feature(feature) or found.kind
    inner: dict[str, Any] = data if type(data) is dict else {}
    msg = obj.get("msg")
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
    )
    if inner:
        event.error = _error_text(inner)
        _RESULTS[kind](event, inner)
    elif kind == "recovery" and type(data) is list and data:
        event.recovered = _validate(_RECOVERED, data)
    return event


def _tracks(event: Event, inner: dict[str, Any]) -> None:
    items = inner.get("data")
    if type(items) is list and items:
        event.tracks = _validate(_TRACKS, items)


def _lyrics(event: Event, inner: dict[str, Any]) -> None:
    items = inner.get("data")
    if type(items) is list and items:
        event.lyrics = _validate(_LYRICS, items)


def _wav(event: Event, inner: dict[str, Any]) -> None:
    event.wav_url = _url(inner.get("audioWavUrl") or inner.get("audio_wav_url"))


def _stems(event: Event, inner: dict[str, Any]) -> None:
    info = inner.get("vocal_separation_info") or inner.get("vocal_removal_info")
    if type(info) is dict:
        event.stems = _validate(_STEMS, info)


def _midi(event: Event, inner: dict[str, Any]) -> None:
    if "instruments" in inner or "state" in inner:
        event.midi = _validate(_MIDI, inner)


def _video(event: Event, inner: dict[str, Any]) -> None:
    event.video_url = _url(inner.get("video_url") or inner.get("videoUrl"))


def _images(event: Event, inner: dict[str, Any]) -> None:
    images = inner.get("images")
    if type(images) is list:
        event.images = [url for url in images if isinstance(url, str) and url]


def _recovered(event: Event, inner: dict[str, Any]) -> None:
    items = inner.get("data")
    if type(items) is list and items:
        event.recovered = _validate(_RECOVERED, items)


def _voice(event: Event, inner: dict[str, Any]) -> None:
    event.voice = _validate(_VOICE, inner)


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
