"""The family (`Event.kind`) of a callback: from the feature named by the URL or route, else
from the body's shape; market bodies from their decoded result or model name."""

from __future__ import annotations

from typing import Any

from ..events import EventKind
from .market import result_tracks

__all__ = ["FEATURE_KINDS", "detect_kind", "kind_for_feature", "kind_from_shape", "market_kind"]

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
"""Every feature name `callback_url(..., feature=...)` knows, and the family it belongs to."""


def kind_for_feature(feature: str | None) -> EventKind | None:
    """The family a feature name belongs to (`"replace-section"` → `"music"`), if known."""
    if not feature:
        return None
    return FEATURE_KINDS.get(feature.strip().lower().replace("-", "_"))


def detect_kind(obj: dict[str, Any], feature: str | None = None) -> EventKind:
    """The family of a body: from the feature when known, else from the body's shape."""
    return kind_for_feature(feature) or kind_from_shape(obj.get("data"))


def kind_from_shape(data: Any) -> EventKind:
    """The family a callback's `data` shows by its keys; `unknown` when it shows none."""
    if isinstance(data, list):
        return "recovery"
    if not isinstance(data, dict):
        return "unknown"
    if "callbackType" in data:
        items = data.get("data")
        if isinstance(items, list) and items:
            return _list_kind(items)
        return "lyrics" if "lyricsData" in data else "music"
    for keys, kind in _SHAPE_KEYS:
        if any(key in data for key in keys):
            return kind
    items = data.get("data")
    if isinstance(items, list):
        return _list_kind(items)
    response = data.get("response")
    if isinstance(response, dict) and isinstance(response.get("sunoData"), list):
        return "music"  # a body in the polling record's shape
    return "unknown"


def _list_kind(items: list[Any]) -> EventKind:
    """Lyrics when the first item is a lyrics variation (text, no audio), else music."""
    first = items[0] if items else None
    if type(first) is dict and "text" in first and "audio_url" not in first:
        return "lyrics"
    return "music"


_SHAPE_KEYS: tuple[tuple[tuple[str, ...], EventKind], ...] = (
    (("audioWavUrl", "audio_wav_url"), "wav"),
    (("vocal_separation_info", "vocal_removal_info"), "stems"),
    (("instruments",), "midi"),
    (("video_url", "videoUrl"), "video"),
    (("images",), "cover_image"),
    (("voiceId", "validateInfo"), "voice"),
    (("lyricsData",), "lyrics"),
)

# Words in a market model name (`ai-music-api/generate-lyrics`) that name a family.
_MODEL_WORDS: tuple[tuple[str, EventKind], ...] = (
    ("lyrics", "lyrics"),
    ("wav", "wav"),
    ("midi", "midi"),
    ("video", "video"),
    ("mp4", "video"),
    ("stem", "stems"),
    ("vocal-removal", "stems"),
)


def market_kind(data: dict[str, Any], result: dict[str, Any] | None) -> EventKind:
    """A market body's family: from the decoded result's shape, else from the model name."""
    if result is not None:
        kind = kind_from_shape(result)
        if kind != "unknown":
            return kind
        if result_tracks(result):
            return "music"
    model = data.get("model")
    if type(model) is not str:
        return "unknown"
    name = model.strip().lower()
    for word, kind in _MODEL_WORDS:
        if word in name:
            return kind
    return "music" if name.startswith(("ai-music-api/", "suno")) else "unknown"
