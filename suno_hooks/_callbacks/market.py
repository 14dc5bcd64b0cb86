"""The market shape: Kie's `jobs/createTask` callbacks and `jobs/recordInfo` answers
(https://docs.kie.ai/market/common/get-task-detail).

`data.state` carries the stage, `data.resultJson` the result as JSON inside a string,
`data.failCode` / `data.failMsg` the failure. These helpers read those fields and never raise.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

__all__ = [
    "MARKET_PROGRESS_STATES",
    "decode_result",
    "fail_code",
    "is_market",
    "market_stage",
    "result_tracks",
    "result_urls",
]

MARKET_PROGRESS_STATES = ("waiting", "queuing", "generating")
"""The market states of an unfinished task, read as progress stages."""
_TERMINAL_STATES = {"success": "complete", "fail": "error", "failed": "error"}
_MARKET_KEYS = ("resultJson", "failCode", "failMsg")
_STATES = frozenset((*MARKET_PROGRESS_STATES, *_TERMINAL_STATES))
_MAX_STAGE_LENGTH = 64

# Track keys as the polling records spell them, to the callback's snake_case.
_CAMEL_TRACK_KEYS = {
    "audioUrl": "audio_url",
    "streamAudioUrl": "stream_audio_url",
    "imageUrl": "image_url",
    "sourceAudioUrl": "source_audio_url",
    "sourceStreamAudioUrl": "source_stream_audio_url",
    "sourceImageUrl": "source_image_url",
    "modelName": "model_name",
}


def is_market(data: dict[str, Any]) -> bool:
    """True when a callback's `data` has the market shape (a MIDI result with `instruments`
    never does, so `state` alone does not make a body MIDI)."""
    if any(key in data for key in _MARKET_KEYS):
        return True
    state = data.get("state")
    return type(state) is str and state.strip().lower() in _STATES and "instruments" not in data


def market_stage(state: Any) -> str | None:
    """The stage a market `state` names: `success` → complete, `fail` → error, another state
    lower-cased (a progress stage); None when there is no usable state."""
    if type(state) is not str:
        return None
    text = state.strip().lower()[:_MAX_STAGE_LENGTH]
    if not text:
        return None
    return _TERMINAL_STATES.get(text, text)


def fail_code(value: Any) -> int | None:
    """A market `failCode` as a number (`"501"` → 501); None when empty or not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 9:
            return int(text) or None
    return None


def decode_result(value: Any) -> dict[str, Any] | None:
    """`resultJson` decoded: a JSON object (given as text or already decoded), else None."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str | bytes) or not value:
        return None
    try:
        decoded = from_json(value)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def result_urls(result: dict[str, Any] | None) -> list[str]:
    """The result's `resultUrls` (or `result_urls`), keeping only non-empty strings."""
    if result is None:
        return []
    urls = result.get("resultUrls", result.get("result_urls"))
    if not isinstance(urls, list):
        return []
    return [url for url in urls if isinstance(url, str) and url]


def result_tracks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The Suno tracks a decoded result holds (objects with `audio_url` or `audioUrl`), with
    camelCase keys renamed to the callback's snake_case; empty when it holds none."""
    holder: Any = result.get("response")
    if not isinstance(holder, dict):
        holder = result
    for name in ("data", "sunoData", "tracks"):
        items = holder.get(name)
        if isinstance(items, list) and any(_is_track(item) for item in items):
            return [_snake_track(item) for item in items if isinstance(item, dict)]
    return []


def _is_track(item: Any) -> bool:
    return isinstance(item, dict) and ("audio_url" in item or "audioUrl" in item)


def _snake_track(item: dict[str, Any]) -> dict[str, Any]:
    return {_CAMEL_TRACK_KEYS.get(key, key): value for key, value in item.items()}
