"""Polling answers of the legacy `GET /api/v1/…/record-info?taskId=` endpoints: camelCase
records whose status follows the stages the task has reached, whether or not their callbacks were
sent."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .bodies import failure_message

if TYPE_CHECKING:
    from .tasks import Task

__all__ = ["poll_record"]

_OPERATIONS = {"generate", "extend", "upload_cover", "upload_extend"}
_CAMEL_TRACK = {
    "audio_url": "audioUrl",
    "stream_audio_url": "streamAudioUrl",
    "image_url": "imageUrl",
    "source_audio_url": "sourceAudioUrl",
    "source_stream_audio_url": "sourceStreamAudioUrl",
    "source_image_url": "sourceImageUrl",
    "model_name": "modelName",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _plain(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def poll_record(task: Task) -> dict[str, Any]:
    """The `data` of the task's polling answer, as its family's endpoint shapes it."""
    kind = task.family.kind
    failed = task.failed
    done = task.terminal_reached
    error_code = task.failure if failed else None
    error_message = failure_message(kind, task.failure) if failed and task.failure else None
    common = {"taskId": task.task_id, "callbackUrl": task.callback_url}
    if kind == "music":
        return (
            common
            | _music(task, failed)
            | {
                "errorCode": error_code,
                "errorMessage": error_message,
            }
        )
    if kind == "lyrics":
        items = [
            {"text": item["text"], "title": item["title"], "status": "complete", "errorMessage": ""}
            for item in task.results["lyrics"]
        ]
        status = "GENERATE_LYRICS_FAILED" if failed else ("SUCCESS" if done else "PENDING")
        if failed and task.failure == 400:
            status = "SENSITIVE_WORD_ERROR"
        return common | {
            "param": json.dumps(task.params, ensure_ascii=False),
            "response": {"taskId": task.task_id, "data": items if done and not failed else []},
            "status": status,
            "type": "LYRICS",
            "errorCode": error_code,
            "errorMessage": error_message,
        }
    flag, response = _single(task, kind, failed, done)
    times: dict[str, Any] = {"createTime": task.created_ms, "completeTime": task.updated_ms}
    if kind == "wav":
        times = {"createTime": _plain(task.created_ms), "completeTime": _plain(task.updated_ms)}
    elif kind == "cover_image":
        times = {"createTime": _iso(task.created_ms), "completeTime": _iso(task.updated_ms)}
    extra: dict[str, Any] = {"musicId": task.params.get("audioId")}
    if kind == "midi":
        extra = {"recordTaskId": -1, "audioId": task.params.get("audioId")}
    elif kind == "cover_image":
        extra = {"parentTaskId": task.params.get("taskId")}
    return (
        common
        | extra
        | times
        | response
        | {
            "successFlag": flag,
            "errorCode": str(error_code) if kind == "midi" and error_code else error_code,
            "errorMessage": error_message,
        }
    )


def _music(task: Task, failed: bool) -> dict[str, Any]:
    reached = task.reached
    tracks = task.results["tracks"]
    shown = tracks if "complete" in reached else tracks[:1] if "first" in reached else []
    suno_data = [
        {_CAMEL_TRACK.get(key, key): value for key, value in track.items()} for track in shown
    ]
    if failed:
        status = "SENSITIVE_WORD_ERROR" if task.failure == 400 else "GENERATE_AUDIO_FAILED"
        suno_data = []
    elif "complete" in reached:
        status = "SUCCESS"
    elif "first" in reached:
        status = "FIRST_SUCCESS"
    elif "text" in reached:
        status = "TEXT_SUCCESS"
    else:
        status = "PENDING"
    feature = task.family.feature
    return {
        "parentMusicId": task.params.get("audioId", ""),
        "param": json.dumps(task.params, ensure_ascii=False),
        "response": {"taskId": task.task_id, "sunoData": suno_data},
        "status": status,
        "type": "chirp-v4",
        "operationType": feature if feature in _OPERATIONS else feature.replace("_", "-"),
    }


def _single(task: Task, kind: str, failed: bool, done: bool) -> tuple[Any, dict[str, Any]]:
    results = task.results
    ok = done and not failed
    response: dict[str, Any]
    if kind == "wav":
        response = {"response": {"audioWavUrl": results["wav_url"] if ok else None}}
    elif kind == "stems":
        stems = {_camel(name): url for name, url in results["stems"].items()} if ok else {}
        if "vocalUrl" in stems and "instrumentalUrl" not in stems:
            stems["pianoUrl"] = stems["keyboardUrl"]  # polling lists a stem callbacks never do
        # An advanced split lists its stems flat, each with the source's `musicId`.
        origin = [
            stem | {"musicId": task.params.get("audioId")}
            for pair in (results.get("origin") or [] if ok else [])
            for stem in pair.values()
        ]
        response = {"response": {"id": task.task_id, "originUrl": "", "originData": origin} | stems}
    elif kind == "midi":
        response = {
            "midiData": {"state": "complete", "instruments": results["instruments"]} if ok else None
        }
    elif kind == "video":
        response = {"response": {"videoUrl": results["video_url"] if ok else None}}
    else:
        response = {"response": {"images": results["images"] if ok else None}}
    if kind in ("midi", "cover_image"):
        return (3 if failed else 1 if done else 0), response
    failed_flag = {"wav": "GENERATE_WAV_FAILED", "video": "GENERATE_MP4_FAILED"}.get(
        kind, "GENERATE_AUDIO_FAILED"
    )
    return (failed_flag if failed else "SUCCESS" if done else "PENDING"), response
