"""The features the sandbox accepts: create path, required fields, callback stages and polling
path of each, as Kie's Suno API page of each feature documents them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FAMILIES",
    "FAMILY_BY_PATH",
    "MARKET_CREATE_PATH",
    "MARKET_MODELS",
    "MARKET_POLL_PATH",
    "POLL_PATHS",
    "STYLE_PATH",
    "Family",
]

MUSIC_STAGES = ("text", "first", "complete")
MUSIC_POLL = "/api/v1/generate/record-info"


@dataclass(frozen=True)
class Family:
    """One create endpoint that calls back: its feature name, the kind of result it produces,
    the fields Kie requires, the stages it sends on success and where it is polled."""

    feature: str
    path: str
    kind: str
    required: tuple[str, ...]
    stages: tuple[str, ...]
    poll_path: str
    default_failure: int
    failure_codes: tuple[int, ...]

    @property
    def is_music(self) -> bool:
        """True for the track family (bodies `{callbackType, task_id, data: [tracks]}`)."""
        return self.kind == "music"


_MUSIC_CODES = (400, 408, 413, 451, 500, 501, 531)


def _music(
    feature: str, path: str, *required: str, stages: tuple[str, ...] = MUSIC_STAGES
) -> Family:
    return Family(feature, path, "music", required, stages, MUSIC_POLL, 501, _MUSIC_CODES)


FAMILIES: dict[str, Family] = {
    family.feature: family
    for family in (
        _music(
            "generate",
            "/api/v1/generate",
            "prompt",
            "customMode",
            "instrumental",
            "model",
            "callBackUrl",
        ),
        _music(
            "extend",
            "/api/v1/generate/extend",
            "defaultParamFlag",
            "audioId",
            "model",
            "callBackUrl",
        ),
        _music(
            "upload_cover",
            "/api/v1/generate/upload-cover",
            "uploadUrl",
            "prompt",
            "customMode",
            "instrumental",
            "model",
            "callBackUrl",
        ),
        _music(
            "upload_extend",
            "/api/v1/generate/upload-extend",
            "uploadUrl",
            "defaultParamFlag",
            "instrumental",
            "continueAt",
            "model",
            "callBackUrl",
        ),
        _music(
            "add_instrumental",
            "/api/v1/generate/add-instrumental",
            "uploadUrl",
            "title",
            "negativeTags",
            "tags",
            "callBackUrl",
        ),
        _music(
            "add_vocals",
            "/api/v1/generate/add-vocals",
            "prompt",
            "title",
            "negativeTags",
            "style",
            "uploadUrl",
            "callBackUrl",
        ),
        _music(
            "mashup",
            "/api/v1/generate/mashup",
            "uploadUrlList",
            "customMode",
            "model",
            "callBackUrl",
        ),
        _music(
            "replace_section",
            "/api/v1/generate/replace-section",
            "taskId",
            "audioId",
            "prompt",
            "tags",
            "title",
            "infillStartS",
            "infillEndS",
            "callBackUrl",
            stages=("complete",),
        ),
        Family(
            "lyrics",
            "/api/v1/lyrics",
            "lyrics",
            ("prompt", "callBackUrl"),
            ("complete",),
            "/api/v1/lyrics/record-info",
            400,
            (400, 500),
        ),
        Family(
            "wav",
            "/api/v1/wav/generate",
            "wav",
            ("taskId", "audioId", "callBackUrl"),
            ("complete",),
            "/api/v1/wav/record-info",
            500,
            (400, 451, 500, 501),
        ),
        Family(
            "vocal_removal",
            "/api/v1/vocal-removal/generate",
            "stems",
            ("taskId", "audioId", "callBackUrl"),
            ("complete",),
            "/api/v1/vocal-removal/record-info",
            500,
            (400, 408, 413, 451, 500, 501, 531),
        ),
        Family(
            "midi",
            "/api/v1/midi/generate",
            "midi",
            ("taskId", "callBackUrl"),
            ("complete",),
            "/api/v1/midi/record-info",
            500,
            (500,),
        ),
        Family(
            "video",
            "/api/v1/mp4/generate",
            "video",
            ("taskId", "audioId", "callBackUrl"),
            ("complete",),
            "/api/v1/mp4/record-info",
            500,
            (400, 451, 500),
        ),
        Family(
            "cover_image",
            "/api/v1/suno/cover/generate",
            "cover_image",
            ("taskId", "callBackUrl"),
            ("complete",),
            "/api/v1/suno/cover/record-info",
            501,
            (400, 408, 500, 501, 531),
        ),
    )
}
"""Every feature the sandbox creates, by name: create path, required fields, stages and
polling path."""

FAMILY_BY_PATH: dict[str, Family] = {family.path: family for family in FAMILIES.values()}
"""Every family by its create path."""
POLL_PATHS: tuple[str, ...] = tuple(sorted({family.poll_path for family in FAMILIES.values()}))
"""Every legacy polling path the sandbox answers, sorted."""

MARKET_CREATE_PATH = "/api/v1/jobs/createTask"
"""The market API's create endpoint."""
MARKET_POLL_PATH = "/api/v1/jobs/recordInfo"
"""The market API's polling endpoint."""
STYLE_PATH = "/api/v1/style/generate"
"""Boost music style: answered at once, no task to poll and no callback."""

MARKET_MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ai-music-api/generate": ("generate", ("prompt",)),
    "ai-music-api/generate-v6-mini": ("generate", ("prompt",)),
    "ai-music-api/generate-v6-wild": ("generate", ("prompt",)),
    "ai-music-api/extend": ("extend", ("audio_id",)),
    "ai-music-api/sounds": ("generate", ("prompt",)),
    "ai-music-api/replace-section": (
        "replace_section",
        (
            "task_id",
            "audio_id",
            "prompt",
            "tags",
            "title",
            "infill_start_s",
            "infill_end_s",
            "full_lyrics",
        ),
    ),
    "ai-music-api/generate-lyrics": ("lyrics", ("prompt",)),
    "ai-music-api/convert-to-wav-format": ("wav", ("task_id", "audio_id")),
    "ai-music-api/create-music-video": ("video", ("task_id", "audio_id")),
}
"""Suno's market model names seen in public integration code (no Kie page names them yet),
with the legacy feature each stands for and the snake_case inputs the sandbox requires."""
