"""Callback bodies of the legacy endpoints, written from the shapes Kie's callback pages show
(such as https://docs.kie.ai/suno-api/generate-music-callbacks) and not from the receiver's code,
so a sandbox test really checks the receiver. `variant` picks an alternate spelling that another
copy of the docs (Chinese, older, sunoapi.org) or a real capture shows (0 = the English page)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tasks import Task

__all__ = ["VARIANTS", "callback_body", "failure_message"]

VARIANTS: dict[str, int] = {
    "music": 2,
    "lyrics": 3,
    "wav": 2,
    "stems": 2,
    "midi": 3,
    "video": 2,
    "cover_image": 2,
}
"""How many spellings each kind has: 0 is Kie's current English page, the others come from
its Chinese page, an older copy, sunoapi.org or a real capture; `variant` is below this."""

_MUSIC_MSG = {
    "text": "Text generation completed.",
    "first": "First track generated successfully.",
    "complete": "All generated successfully.",
}
_FAILURES: dict[str, dict[int, str]] = {
    "music": {
        400: "Lyrics contain copyrighted material.",
        408: "Rate limited: the request timed out.",
        413: "The uploaded audio matches an existing work.",
        451: "The source file could not be downloaded.",
        500: "Internal Error - Please try again later.",
        501: "Audio generation failed",
        531: "Generation failed, credits refunded. Please try again.",
    },
    "lyrics": {
        400: "Song Description flagged for moderation",
        500: "Internal Error - Please try again later.",
    },
    "wav": {
        400: "The audio could not be converted: unsupported file.",
        451: "The source audio could not be downloaded.",
        500: "Internal Error - Please try again later",
        501: "WAV conversion failed",
    },
    "stems": {500: "Vocal separation failed", 501: "Vocal separation failed"},
    "midi": {500: "MIDI generation failed"},
    "video": {
        400: "音乐视频生成失败",
        451: "The source audio could not be downloaded.",
        500: "Internal Error - Please try again later",
    },
    "cover_image": {
        501: "Cover generation failed",
        531: "Cover generation failed, credits refunded.",
    },
}
_EMPTY_ON_FAILURE = ("extend", "upload_cover", "upload_extend")


def failure_message(kind: str, code: int) -> str:
    """The message a failure callback of `kind` carries for `code`."""
    return _FAILURES.get(kind, {}).get(code) or "Internal Error - Please try again later."


def callback_body(task: Task, stage: str) -> dict[str, Any]:
    """The body of `task`'s callback for `stage` (`text`, `first`, `complete` or `error`)."""
    kind = task.family.kind
    builder = _BUILDERS[kind]
    return builder(task, stage, task.variant)


def _music(task: Task, stage: str, variant: int) -> dict[str, Any]:
    tracks = copy.deepcopy(task.results["tracks"])
    data: dict[str, Any] = {"callbackType": stage, "task_id": task.task_id}
    if stage == "error":
        code = task.failure or 501
        msg = failure_message("music", code)
        if task.family.feature == "replace_section":
            # The English callbacks page has no data.data but an `error` string; the Chinese one
            # (https://docs.kie.ai/cn/suno-api/replace-section-callbacks) has data.data null.
            if variant:
                data["data"] = None
            else:
                data["error"] = "Generation failed due to technical issues"
            msg = "Audio generation failed." if code == 501 else msg
        else:
            empty = task.family.feature in _EMPTY_ON_FAILURE
            data["data"] = [] if empty != bool(variant) else None
        return {"code": code, "msg": msg, "data": data}
    if stage == "text":
        data["data"] = []
    elif stage == "first":
        if variant:
            # The real capture: both tracks, the unfinished one without audio or duration,
            # createTime as epoch milliseconds.
            for track in tracks:
                track["createTime"] = task.created_ms
            if len(tracks) > 1:
                tracks[-1]["audio_url"] = ""
                tracks[-1].pop("duration", None)
            data["data"] = tracks
        else:
            data["data"] = tracks[:1]
    else:
        data["data"] = tracks
    return {"code": 200, "msg": _MUSIC_MSG[stage], "data": data}


def _lyrics(task: Task, stage: str, variant: int) -> dict[str, Any]:
    ok = stage != "error"
    code = 200 if ok else (task.failure or 400)
    error_key = "error_message" if variant == 0 else "errorMessage"
    items = [
        {"text": item["text"], "title": item["title"], "status": "complete", error_key: ""}
        for item in task.results["lyrics"]
    ]
    data: dict[str, Any] = {"callbackType": "complete" if ok or variant == 0 else "error"}
    if variant == 0:
        data["task_id"] = task.task_id
    else:
        data["taskId"] = task.task_id
    data["lyricsData" if variant == 2 else "data"] = items if ok else None
    msg = "All generated successfully." if ok else failure_message("lyrics", code)
    return {"code": code, "msg": msg, "data": data}


def _wav(task: Task, stage: str, variant: int) -> dict[str, Any]:
    ok = stage != "error"
    code = 200 if ok else (task.failure or 500)
    key = "audio_wav_url" if variant else "audioWavUrl"
    return {
        "code": code,
        "msg": "success" if ok else failure_message("wav", code),
        "data": {key: task.results["wav_url"] if ok else None, "task_id": task.task_id},
    }


def _stems(task: Task, stage: str, variant: int) -> dict[str, Any]:
    ok = stage != "error"
    code = 200 if ok else (task.failure or 500)
    split = task.results["split"]
    origin = task.results.get("origin")
    info: dict[str, Any] | None = None
    if ok:
        info = {"origin_url": ""} | task.results["stems"]
        if origin:
            info["origin_data"] = copy.deepcopy(origin)
        msg = (
            "vocal Removal generated successfully."
            if variant
            else ("vocal separation generated successfully.")
        )
    else:
        msg = "Instrument separation failed" if split else failure_message("stems", code)
    key = "vocal_removal_info" if variant or origin else "vocal_separation_info"
    return {"code": code, "msg": msg, "data": {"task_id": task.task_id, key: info}}


def _midi(task: Task, stage: str, variant: int) -> dict[str, Any]:
    if stage == "error":
        code = task.failure or 500
        return {
            "code": code,
            "msg": failure_message("midi", code),
            "data": {"taskId": task.task_id},
        }
    instruments = copy.deepcopy(task.results["instruments"])
    for instrument in instruments:
        for note in instrument["notes"]:
            note["end"] = str(note["end"])  # Kie's MIDI callback page allows a string time
    data: dict[str, Any] = {"state": "complete", "instruments": instruments}
    if variant == 1:  # Kie's Chinese MIDI callback page: inside data, camelCase
        return {
            "code": 200,
            "msg": "success",
            "data": {"state": "complete", "taskId": task.task_id} | {"instruments": instruments},
        }
    key = "taskId" if variant == 2 else "task_id"  # mirror field list / live English page
    return {key: task.task_id, "code": 200, "msg": "success", "data": data}


def _video(task: Task, stage: str, variant: int) -> dict[str, Any]:
    ok = stage != "error"
    code = 200 if ok else (task.failure or (400 if variant else 500))
    msg = (
        ("MP4 generated successfully." if variant else "success")
        if ok
        else (failure_message("video", code))
    )
    url = task.results["video_url"] if ok else None
    return {"code": code, "msg": msg, "data": {"task_id": task.task_id, "video_url": url}}


def _cover_image(task: Task, stage: str, variant: int) -> dict[str, Any]:
    ok = stage != "error"
    code = 200 if ok else (task.failure or 501)
    msg = "success" if ok else ("封面生成失败" if variant else failure_message("cover_image", code))
    images = task.results["images"] if ok else None
    return {"code": code, "data": {"images": images, "taskId": task.task_id}, "msg": msg}


_BUILDERS = {
    "music": _music,
    "lyrics": _lyrics,
    "wav": _wav,
    "stems": _stems,
    "midi": _midi,
    "video": _video,
    "cover_image": _cover_image,
}
