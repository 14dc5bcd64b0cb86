"""Polling records to callback bodies: what the reconciler hands the receiver.

A record-info answer is camelCase, reports its state as `status`, `successFlag` (a string or an
integer, per endpoint) or the market `state`, and nests results under `response`. Each terminal
record becomes the body the family's callback would have carried, so the receiver parses,
de-duplicates and dispatches it exactly like the callback; a record still running gives None.
Nothing here raises on a surprising record: an unreadable state counts as still running.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..client.features import MARKET_RECORD, feature
from .whole_numbers import whole_number

__all__ = ["LOST_CODE", "callback_body", "lost_body"]

LOST_CODE = 408
"""The code of the `task_failed` sent for a task given up on: 408, Kie's "timed out"."""

_PENDING = "pending"
_SUCCESS = "success"
_FAILED = "failed"
_CALLBACK_EXCEPTION = "callback_exception"

_RUNNING_WORDS = ("PENDING", "GENERATING", "TEXT_SUCCESS", "FIRST_SUCCESS", "QUEUING", "WAITING",
                  "RUNNING", "PROCESSING", "WAIT_PROCESSING", "PROCESSING_VALIDATE")  # fmt: skip
# Integer `successFlag`s, as Kie's polling pages define them: MIDI 0 pending, 1 success,
# 2 create failed, 3 failed; cover image 0 pending, 1 success, 2 generating, 3 failed.
_MIDI_FLAGS = {0: _PENDING, 1: _SUCCESS, 2: _FAILED, 3: _FAILED}
_COVER_FLAGS = {0: _PENDING, 1: _SUCCESS, 2: _PENDING, 3: _FAILED}
_TEXT_FLAGS = {0: _PENDING, 1: _SUCCESS, 2: _FAILED, 3: _FAILED}
_VOICE_STATES = {"success": _SUCCESS, "wait_validating": _SUCCESS, "fail": _FAILED,
                 "processing_validate_fail": _FAILED}  # fmt: skip


def _outcome(value: Any, flags: Mapping[int, str] = _TEXT_FLAGS) -> str:
    """pending, success, failed or callback_exception, from any status or flag value."""
    if isinstance(value, bool):
        return _PENDING
    if isinstance(value, int):
        return flags.get(value, _PENDING)
    if not isinstance(value, str):
        return _PENDING
    text = value.strip().upper()
    flag = whole_number(text, 2)
    if flag is not None:
        return flags.get(flag, _PENDING)
    if text == "SUCCESS":
        return _SUCCESS
    if text == "CALLBACK_EXCEPTION":
        return _CALLBACK_EXCEPTION
    if text in _RUNNING_WORDS:
        return _PENDING
    if "FAIL" in text or "ERROR" in text:
        return _FAILED
    return _PENDING


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _failure_code(record: dict[str, Any], default: int) -> int:
    code = record.get("errorCode")
    if isinstance(code, str):
        code = whole_number(code)
    if isinstance(code, int) and not isinstance(code, bool) and code not in (0, 200):
        return code
    return default


def _message(record: dict[str, Any], fallback: str) -> str:
    text = record.get("errorMessage") or record.get("failMsg")
    return text if isinstance(text, str) and text else fallback


def _first_list(*candidates: Any) -> list[Any]:
    for candidate in candidates:
        if isinstance(candidate, list):
            return candidate
    return []


# -- the families --------------------------------------------------------------------------------


def _tracks(task_id: str, record: dict[str, Any], _: dict[str, Any]) -> dict[str, Any] | None:
    response = _dict(record.get("response"))
    items = _first_list(response.get("sunoData"), response.get("data"), record.get("sunoData"))
    tracks = [{_snake(k) if k != "createTime" else k: v for k, v in t.items()}
              for t in items if isinstance(t, dict)]  # fmt: skip
    outcome = _outcome(record.get("status", record.get("successFlag")))
    if outcome == _CALLBACK_EXCEPTION:
        outcome = _SUCCESS if any(t.get("audio_url") for t in tracks) else _FAILED
    if outcome == _SUCCESS:
        data: dict[str, Any] = {"callbackType": "complete", "task_id": task_id, "data": tracks}
        return {"code": 200, "msg": "All generated successfully.", "data": data}
    if outcome == _FAILED:
        status = str(record.get("status") or "")
        code = _failure_code(record, 400 if "SENSITIVE" in status.upper() else 501)
        message = _message(record, status or "Audio generation failed")
        data = {"callbackType": "error", "task_id": task_id, "data": None, "error": message}
        return {"code": code, "msg": message, "data": data}
    return None


def _lyrics(task_id: str, record: dict[str, Any], _: dict[str, Any]) -> dict[str, Any] | None:
    outcome = _outcome(record.get("status", record.get("successFlag")))
    response = _dict(record.get("response"))
    items = _first_list(response.get("data"), response.get("lyricsData"), record.get("data"))
    variants = [{_snake(k): v for k, v in item.items()} for item in items if isinstance(item, dict)]
    if outcome in (_SUCCESS, _CALLBACK_EXCEPTION) and variants:
        data: dict[str, Any] = {"callbackType": "complete", "task_id": task_id, "data": variants}
        return {"code": 200, "msg": "All generated successfully.", "data": data}
    if outcome in (_FAILED, _CALLBACK_EXCEPTION, _SUCCESS):
        status = str(record.get("status") or "")
        code = _failure_code(record, 400 if "SENSITIVE" in status.upper() else 500)
        data = {"callbackType": "complete", "task_id": task_id, "data": None}
        return {
            "code": code,
            "msg": _message(record, status or "Lyrics generation failed"),
            "data": data,
        }
    return None


def _single(
    result: Callable[[dict[str, Any]], dict[str, Any]],
    empty: dict[str, Any],
    *,
    flags: Mapping[int, str] = _TEXT_FLAGS,
    id_key: str = "task_id",
    default_code: int = 500,
    top_level_id: bool = False,
) -> Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any] | None]:
    """The mapping of a single-result family: `result(response)` fills `data` on success."""

    def build(task_id: str, record: dict[str, Any], _: dict[str, Any]) -> dict[str, Any] | None:
        outcome = _outcome(record.get("successFlag", record.get("status")), flags)
        response = _dict(record.get("response"))
        if outcome == _CALLBACK_EXCEPTION:
            outcome = _SUCCESS if response else _FAILED
        if outcome == _PENDING:
            return None
        ok = outcome == _SUCCESS
        data = dict(result(record) if ok else empty)
        body: dict[str, Any] = {"code": 200 if ok else _failure_code(record, default_code)}
        body["msg"] = "success" if ok else _message(record, "Generation failed")
        if top_level_id:
            body["task_id"] = task_id
        else:
            data[id_key] = task_id
        body["data"] = data
        return body

    return build


def _stems(record: dict[str, Any]) -> dict[str, Any]:
    response = _dict(record.get("response"))
    info = {_snake(k): v for k, v in response.items() if k not in ("id", "originData")}
    # An advanced split lists its stems (id, audio_url, duration, group) under `originData`.
    origin = response.get("originData")
    if isinstance(origin, list) and origin:
        info["origin_data"] = origin
    return {"vocal_separation_info": info}


def _midi(record: dict[str, Any]) -> dict[str, Any]:
    midi = _dict(record.get("midiData"))
    return {"state": midi.get("state") or "complete", "instruments": midi.get("instruments") or []}


def _recovery(task_id: str, record: Any, answer: dict[str, Any]) -> dict[str, Any] | None:
    code = answer.get("code")
    if code not in (200, 500):
        return None
    holder = _dict(record)
    items = _first_list(record, _dict(holder.get("response")).get("data"), holder.get("data"))
    message = answer.get("msg") if isinstance(answer.get("msg"), str) else ""
    return {"code": code, "msg": message or "success", "task_id": task_id, "data": items}


def _voice(task_id: str, record: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    status = record.get("status")
    outcome = (
        _VOICE_STATES.get(status.strip().lower(), _PENDING) if isinstance(status, str) else _PENDING
    )
    if outcome == _PENDING:
        return None
    ok = outcome == _SUCCESS
    # The stage is named, so a record field such as `state` never makes the body read as
    # another shape (a market task still generating).
    stage = {"taskId": task_id, "callbackType": "complete" if ok else "error"}
    data = {k: v for k, v in record.items() if k not in ("task_id", "taskId")} | stage
    msg = "success" if ok else _message(record, "Voice task failed")
    return {"code": 200 if ok else 400, "msg": msg, "data": data}


def _market(task_id: str, record: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    state = record.get("state")
    state = state.strip().lower() if isinstance(state, str) else ""
    if state not in ("success", "fail", "failed"):
        return None
    data = {k: v for k, v in record.items() if k not in ("task_id", "taskId")} | {"taskId": task_id}
    if state == "success":
        return {"code": 200, "msg": "success", "data": data}
    fail_code = record.get("failCode")
    code = (whole_number(fail_code) if isinstance(fail_code, str) else None) or 501
    if code in (0, 200):
        code = 501
    return {"code": code, "msg": _message(record, "Generation failed"), "data": data}


_BY_RECORD_PATH: dict[str, Callable[[str, Any, dict[str, Any]], dict[str, Any] | None]] = {
    "/api/v1/generate/record-info": _tracks,
    "/api/v1/lyrics/record-info": _lyrics,
    "/api/v1/wav/record-info": _single(
        lambda r: {"audioWavUrl": _dict(r.get("response")).get("audioWavUrl")},
        {"audioWavUrl": None},
    ),
    "/api/v1/vocal-removal/record-info": _single(_stems, {"vocal_separation_info": None}),
    "/api/v1/midi/record-info": _single(_midi, {}, flags=_MIDI_FLAGS, top_level_id=True),
    "/api/v1/mp4/record-info": _single(
        lambda r: {"video_url": _dict(r.get("response")).get("videoUrl")}, {"video_url": None}
    ),
    "/api/v1/suno/cover/record-info": _single(
        lambda r: {"images": _dict(r.get("response")).get("images")},
        {"images": None},
        flags=_COVER_FLAGS,
        id_key="taskId",
        default_code=501,
    ),
    "/api/v1/suno/recovery/record-info": _recovery,
    "/api/v1/voice/validate-info": _voice,
    "/api/v1/voice/record-info": _voice,
    MARKET_RECORD: _market,
}


def callback_body(
    task_id: str, feature_name: str, answer: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The callback body equivalent to a terminal polling answer (`code`, `msg`, `data`) of the
    feature's record endpoint; None while the task is still running."""
    build = _BY_RECORD_PATH.get(feature(feature_name).record_path)
    if build is None or not isinstance(answer, Mapping):
        return None
    record = answer.get("data")
    if build is not _recovery and not isinstance(record, dict):
        return None
    return build(task_id, record, dict(answer))


def lost_body(task_id: str, waited: float) -> dict[str, Any]:
    """The failure body sent once for a task given up on: code 408 (timed out), stage error."""
    message = f"No result after {waited:.0f} s of waiting and polling; suno-hooks gave up."
    data = {"callbackType": "error", "task_id": task_id, "data": None, "error": message}
    return {"code": LOST_CODE, "msg": message, "data": data}
