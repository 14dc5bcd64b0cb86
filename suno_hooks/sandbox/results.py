"""The invented results of one sandbox task (tracks, lyrics, stems, MIDI, URLs), made once at
create time so every callback and every polling answer of the task tells the same story."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

__all__ = ["STEM_NAMES", "make_results"]

FILES = "https://files.example.com/sandbox"
"""Where files live when the sandbox's own address is not known."""
STEM_NAMES = (
    "backing_vocals",
    "bass",
    "brass",
    "drums",
    "fx",
    "guitar",
    "keyboard",
    "percussion",
    "strings",
    "synth",
    "vocal",
    "woodwinds",
)
"""The stems a `split_stem` separation returns, each as a `<name>_url` field."""
_ONE_TRACK = ("add_instrumental", "replace_section")
_UPLOADS = ("upload_cover", "upload_extend")


def _text(params: dict[str, Any], *names: str, default: str) -> str:
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return default


def _track(
    files: str, task_id: str, params: dict[str, Any], feature: str, number: int
) -> dict[str, Any]:
    audio_id = str(uuid.uuid4())
    base = f"{files}/{task_id}/{audio_id}"
    title = _text(params, "title", default="Sandbox Song")
    track: dict[str, Any] = {
        "id": audio_id,
        "audio_url": f"{base}.mp3",
        "stream_audio_url": f"{base}.stream.mp3",
        "image_url": f"{base}.png",
        "prompt": _text(params, "prompt", "lyrics", default="[Verse]\nA sandbox song"),
        "model_name": "chirp-v4-5",
        "title": title if number == 1 else f"{title} (take {number})",
        "tags": _text(params, "tags", "style", default="synthwave"),
        "createTime": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "duration": round(150 + 37.25 * number, 2),
    }
    if feature in _UPLOADS:
        source = _text(params, "uploadUrl", "upload_url", default=f"{FILES}/upload.mp3")
        track |= {
            "source_audio_url": source,
            "source_stream_audio_url": source,
            "source_image_url": f"{base}.source.png",
        }
    return track


def make_results(
    task_id: str, kind: str, feature: str, params: dict[str, Any], files: str = FILES
) -> dict[str, Any]:
    """The results a task of `kind` produces, in the callbacks' snake_case spelling, with file
    URLs under `files` (the sandbox's own `/media` when it serves them)."""
    base = f"{files}/{task_id}"
    if kind == "music":
        count = 1 if feature in _ONE_TRACK else 2
        return {"tracks": [_track(files, task_id, params, feature, n) for n in range(1, count + 1)]}
    if kind == "lyrics":
        topic = _text(params, "prompt", default="a sandbox")
        return {
            "lyrics": [
                {"text": f"[Verse]\nA song about {topic}\n[Chorus]\nTake {n}", "title": f"Take {n}"}
                for n in (1, 2)
            ]
        }
    if kind == "wav":
        return {"wav_url": f"{base}/song.wav"}
    if kind == "stems":
        if params.get("type") == "split_stem_advanced":
            # One stem group, as `{"extract": ..., "remove": ...}`, instead of the `*_url` stems.
            sides = {
                side: {
                    "id": str(uuid.uuid4()),
                    "audio_url": f"{base}/lead_vocal_{side}.mp3",
                    "duration": 187.25,
                    "stem_type_group_name": "Lead Vocal",
                }
                for side in ("extract", "remove")
            }
            return {"stems": {}, "split": True, "origin": [sides]}
        split = params.get("type") == "split_stem"
        names = STEM_NAMES if split else ("instrumental", "vocal")
        return {"stems": {f"{name}_url": f"{base}/{name}.mp3" for name in names}, "split": split}
    if kind == "midi":
        return {
            "instruments": [
                {
                    "name": "Piano",
                    "notes": [
                        {"pitch": 60, "start": 0.5, "end": 1.0, "velocity": 0.8},
                        {"pitch": 64, "start": 1.0, "end": 1.5, "velocity": 0.7},
                    ],
                },
                {"name": "Drums", "notes": []},
            ]
        }
    if kind == "video":
        return {"video_url": f"{base}/video.mp4"}
    return {"images": [f"{base}/cover-1.png", f"{base}/cover-2.png"]}
