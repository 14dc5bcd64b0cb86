"""Where each feature is created and polled: its legacy `/api/v1/…` endpoints, or the market's
`jobs/createTask` and `jobs/recordInfo`."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidRequest

__all__ = ["FEATURES", "MARKET_CREATE", "MARKET_RECORD", "Feature", "feature"]

MUSIC_RECORD = "/api/v1/generate/record-info"
MARKET_CREATE = "/api/v1/jobs/createTask"
"""The market API's create endpoint, shared by every market model."""
MARKET_RECORD = "/api/v1/jobs/recordInfo"
"""The market API's polling endpoint (`?taskId=`), shared by every market model."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One creatable feature: its create and polling paths, and the feature name its callbacks
    carry (`callback_feature`, which decides the event's kind)."""

    name: str
    create_path: str
    record_path: str
    callback_feature: str

    @property
    def market(self) -> bool:
        """True for a model on Kie's market API (`jobs/createTask`, `jobs/recordInfo`)."""
        return self.create_path == MARKET_CREATE


def _legacy(name: str, create: str, record: str = MUSIC_RECORD) -> Feature:
    return Feature(name, create, record, name)


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        _legacy("generate", "/api/v1/generate"),
        _legacy("extend", "/api/v1/generate/extend"),
        _legacy("upload_cover", "/api/v1/generate/upload-cover"),
        _legacy("upload_extend", "/api/v1/generate/upload-extend"),
        _legacy("add_instrumental", "/api/v1/generate/add-instrumental"),
        _legacy("add_vocals", "/api/v1/generate/add-vocals"),
        _legacy("mashup", "/api/v1/generate/mashup"),
        _legacy("sounds", "/api/v1/generate/sounds"),
        _legacy("replace_section", "/api/v1/generate/replace-section"),
        _legacy("lyrics", "/api/v1/lyrics", "/api/v1/lyrics/record-info"),
        _legacy("wav", "/api/v1/wav/generate", "/api/v1/wav/record-info"),
        _legacy("stems", "/api/v1/vocal-removal/generate", "/api/v1/vocal-removal/record-info"),
        _legacy("midi", "/api/v1/midi/generate", "/api/v1/midi/record-info"),
        _legacy("video", "/api/v1/mp4/generate", "/api/v1/mp4/record-info"),
        _legacy("cover_image", "/api/v1/suno/cover/generate", "/api/v1/suno/cover/record-info"),
        _legacy("recovery", "/api/v1/suno/recovery", "/api/v1/suno/recovery/record-info"),
        _legacy("voice_validate", "/api/v1/voice/validate", "/api/v1/voice/validate-info"),
        _legacy("voice_regenerate", "/api/v1/voice/regenerate", "/api/v1/voice/validate-info"),
        _legacy("voice_generate", "/api/v1/voice/generate", "/api/v1/voice/record-info"),
    )
}
"""Every legacy feature by name: the path it is created at and the path its record is polled at."""
_ALIASES = {"music": "generate", "vocal_removal": "stems", "mp4": "video", "cover": "cover_image"}

# Market model names seen for Suno in public integration code (no Kie page names them yet) and
# the feature their results belong to.
_MARKET_FEATURES = {
    "generate": "generate",
    "generate-v6-mini": "generate",
    "generate-v6-wild": "generate",
    "extend": "extend",
    "replace-section": "replace_section",
    "generate-lyrics": "lyrics",
    "convert-to-wav-format": "wav",
    "create-music-video": "video",
    "sounds": "sounds",
}


def feature(name: str) -> Feature:
    """The feature called `name` (`"replace_section"`, `"replace-section"`, `"lyrics"`, …), or a
    market model such as `"ai-music-api/replace-section"` (any name with a `/`)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("Name the feature to create, e.g. 'replace_section'.")
    if "/" in name:
        model = name.strip()
        tail = model.rsplit("/", 1)[1]
        return Feature(model, MARKET_CREATE, MARKET_RECORD, _MARKET_FEATURES.get(tail, tail))
    key = name.strip().lower().replace("-", "_")
    found = FEATURES.get(_ALIASES.get(key, key))
    if found is None:
        raise InvalidRequest(
            f"Unknown feature {name!r}: use one of {', '.join(sorted(FEATURES))}, "
            "or a market model such as 'ai-music-api/replace-section'."
        )
    return found
