"""Bytes to `Event`: JSON loading, task-id lookup, stage detection, the typed results.

Two steps on purpose: `probe` is the cheap part (JSON, task id, stage) that verification and
de-duplication need; `build_event` is the full model parse, run only for a callback that will be
dispatched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import from_json

from ..errors import InvalidJSON, InvalidPayload
from ..events import (
    Event,
    EventKind,
    EventSource,
    EventStatus,
    LyricsVariant,
    Midi,
    RecoveredTrack,
    Stems,
    Track,
    VoiceResult,
    flat_stems,
)
from .codes import SUCCESS_CODES, code_info
from .kinds import FEATURE_KINDS, detect_kind, kind_for_feature, kind_from_shape, market_kind
from .lenient import validate_leniently
from .market import (
    MARKET_PROGRESS_STATES,
    decode_result,
    fail_code,
    is_market,
    market_stage,
    result_tracks,
    result_urls,
)
from .whole_numbers import whole_number

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

_STAGE_STATUS: dict[str, EventStatus] = {
    "text": "progress",
    "first": "progress",
    "complete": "completed",
    "error": "failed",
    **dict.fromkeys(MARKET_PROGRESS_STATES, "progress"),
}
# Raw `callbackType` values that name a documented stage another way.
_STAGE_ALIASES = {"task_completed": "complete"}


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
    market: bool = False
    """True for the market shape (DESIGN §10)."""
    result: dict[str, Any] | None = None
    """A market body's decoded `resultJson`."""


def dedupe_key(task_id: str, stage: str) -> str:
    """The idempotency key for one stage of one task."""
    return f"{task_id}:{stage}"


def probe(obj: dict[str, Any]) -> Probe:
    """Find the task id, stage and code of a parsed body (cheap; no model validation)."""
    task_id = find_task_id(obj)
    code = _code(obj.get("code"))
    data = obj.get("data")
    raw_type = None
    if type(data) is dict:
        raw_type = data.get("callbackType")
        if (raw_type is None or raw_type == "task_completed") and is_market(data):
            return _probe_market(obj, data, task_id, code)
    success = code in SUCCESS_CODES
    failure = _stated_failure(obj, data)
    if failure is not None:
        # The body's own status wins over its code: a failed task is never completed.
        if success:
            code = _failure_code(data, failure)
        success = False
        stage = "error"
    else:
        stage = raw_type.strip().lower()[:64] if type(raw_type) is str else ""
        stage = _STAGE_ALIASES.get(stage, stage)
    if not stage or (stage == "complete" and not success):
        stage = "complete" if success else "error"
    status = _STAGE_STATUS.get(stage) or ("completed" if success else "failed")
    kind = kind_from_shape(data)
    return Probe(obj, task_id, stage, status, code, dedupe_key(task_id, stage), kind)


def _stated_failure(obj: dict[str, Any], data: Any) -> str | None:
    """The body's own status when it says the task failed (`GENERATE_AUDIO_FAILED`, `FAILED`,
    `SENSITIVE_WORD_ERROR`, as a polling record spells it), else None."""
    values = [obj.get("status")]
    if type(data) is dict:
        values += (data.get("status"), data.get("successFlag"))
    for value in values:
        if type(value) is str:
            text = value.upper()
            if "FAIL" in text or "ERROR" in text:
                return text
    return None


def _failure_code(data: Any, status: str) -> int:
    """The failure code of a body whose status says it failed but whose code says success:
    its `errorCode` when that names a failure, else 400 for a moderation error, else 501."""
    found = data.get("errorCode") if type(data) is dict else None
    if isinstance(found, str):
        found = whole_number(found)
    if type(found) is int and found not in SUCCESS_CODES:
        return found
    return 400 if "SENSITIVE" in status else 501


def _probe_market(obj: dict[str, Any], data: dict[str, Any], task_id: str, code: int) -> Probe:
    """`probe` for the market shape: stage from `state`, code from `failCode` when the envelope's
    code does not say failure, kind from the decoded result."""
    failed_with = fail_code(data.get("failCode"))
    if code in SUCCESS_CODES and failed_with is not None and failed_with not in SUCCESS_CODES:
        code = failed_with
    success = code in SUCCESS_CODES
    stage = market_stage(data.get("state"))
    if stage is None:
        stage = "complete" if success else "error"
    elif stage == "complete" and not success:
        stage = "error"
    status = _STAGE_STATUS.get(stage, "progress")
    result = decode_result(data.get("resultJson"))
    kind = market_kind(data, result)
    key = dedupe_key(task_id, stage)
    return Probe(obj, task_id, stage, status, code, key, kind, market=True, result=result)


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
