"""Build and sign realistic Suno callbacks for tests, the CLI's `send`, and your own test suite."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._callbacks.probe import find_task_id
from ._security.signatures import compute_signature
from .events import Event
from .signals import callback_received

__all__ = ["STAGES", "CapturedEvents", "capture_events", "encode", "make_callback", "sign_headers"]

_IDS = uuid.UUID("6f1d1c4e-5b1a-4f57-9d8e-2a3c5b7e9f10")

_TRACK: dict[str, Any] = {
    "id": "",
    "audio_url": "https://files.example.com/suno/{id}.mp3",
    "stream_audio_url": "https://stream.example.com/{id}",
    "image_url": "https://files.example.com/suno/{id}.jpeg",
    "prompt": "[Verse]\nStreetlights hum a quiet tune\n\n[Chorus]\nNeon rain, neon rain",
    "model_name": "chirp-v4-5",
    "title": "Neon Rain",
    "tags": "synthwave, rainy night",
    "createTime": "2025-08-19 14:32:07",
    "duration": 198.44,
}

_MUSIC_MSG = {
    "text": "Text generation completed.",
    "first": "First track generated successfully.",
    "complete": "All generated successfully.",
    "error": "Audio generation failed",
}

STAGES: dict[str, tuple[str, ...]] = {
    "music": ("text", "first", "complete", "error"),
    **dict.fromkeys(
        ("lyrics", "wav", "stems", "midi", "video", "cover_image", "recovery", "voice"),
        ("complete", "error"),
    ),
}
"""The stages `make_callback` builds per kind: `text`, `first`, `complete` and `error` for
music; `complete` and `error` for every single-result family."""


def _item_id(task_id: str, position: int) -> str:
    """The id of the task's n-th track or item: the same for the same task, so a resend of
    the same arguments is the same body (a duplicate, not a replayed signature)."""
    return str(uuid.uuid5(_IDS, f"{task_id}:{position}"))


def _track(task_id: str, position: int, title: str) -> dict[str, Any]:
    track_id = _item_id(task_id, position)
    return {k: (v.format(id=track_id) if isinstance(v, str) else v) for k, v in _TRACK.items()} | {
        "id": track_id,
        "title": title,
    }


def _music(task_id: str, stage: str) -> dict[str, Any]:
    tracks: list[dict[str, Any]] | None
    if stage == "text":
        tracks = []
    elif stage == "first":
        tracks = [_track(task_id, 0, "Neon Rain")]
    elif stage == "complete":
        tracks = [_track(task_id, 0, "Neon Rain"), _track(task_id, 1, "Neon Rain (Take 2)")]
    else:
        tracks = None
    code = 501 if stage == "error" else 200
    return {
        "code": code,
        "msg": _MUSIC_MSG.get(stage, "success"),
        "data": {"callbackType": stage, "task_id": task_id, "data": tracks},
    }


def _single(kind: str, task_id: str, ok: bool) -> dict[str, Any]:
    url = f"https://files.example.com/s/{task_id}"
    if kind == "lyrics":
        items = (
            [
                {
                    "text": "[Verse]\nHello",
                    "title": "Hello",
                    "status": "complete",
                    "error_message": "",
                }
            ]
            if ok
            else None
        )
        return {
            "code": 200 if ok else 400,
            "msg": "All generated successfully."
            if ok
            else "Song Description flagged for moderation",
            "data": {"callbackType": "complete", "task_id": task_id, "data": items},
        }
    if kind == "wav":
        return {
            "code": 200 if ok else 500,
            "msg": "success" if ok else "Internal Error",
            "data": {"audioWavUrl": f"{url}.wav" if ok else None, "task_id": task_id},
        }
    if kind == "stems":
        info = (
            {
                "origin_url": "",
                "instrumental_url": f"{url}_Instrumental.mp3",
                "vocal_url": f"{url}_Vocals.mp3",
            }
            if ok
            else None
        )
        return {
            "code": 200 if ok else 500,
            "msg": "vocal separation generated successfully." if ok else "Vocal separation failed",
            "data": {"task_id": task_id, "vocal_separation_info": info},
        }
    if kind == "midi":
        if not ok:
            return {"code": 500, "msg": "MIDI generation failed", "data": {"taskId": task_id}}
        notes = [{"pitch": 60, "start": "0.5", "end": 1.0, "velocity": 0.8}]
        return {
            "task_id": task_id,
            "code": 200,
            "msg": "success",
            "data": {"state": "complete", "instruments": [{"name": "Piano", "notes": notes}]},
        }
    if kind == "video":
        return {
            "code": 200 if ok else 500,
            "msg": "success" if ok else "Internal Error",
            "data": {"task_id": task_id, "video_url": f"{url}.mp4" if ok else None},
        }
    if kind == "cover_image":
        return {
            "code": 200 if ok else 501,
            "msg": "success" if ok else "Cover generation failed",
            "data": {"taskId": task_id, "images": [f"{url}_1.png", f"{url}_2.png"] if ok else None},
        }
    if kind == "recovery":
        item = {
            "id": _item_id(task_id, 0),
            "audio_url": f"{url}.m4a" if ok else "",
            "title": "Recovered",
            "status": "success" if ok else "failed",
            "error": "" if ok else "clip_error",
        }
        return {"code": 200 if ok else 500, "msg": "success", "task_id": task_id, "data": [item]}
    if kind == "voice":
        return {
            "code": 200 if ok else 400,
            "msg": "success" if ok else "Voice generation failed",
            "data": {
                "taskId": task_id,
                "voiceId": "voice_demo" if ok else "",
                "status": "success" if ok else "fail",
                "errorCode": 0 if ok else 500,
                "errorMessage": "" if ok else "Verification audio did not match",
            },
        }
    raise ValueError(f"Unknown callback kind {kind!r}; one of {', '.join(STAGES)}.")


def make_callback(
    kind: str = "music", stage: str = "complete", task_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A realistic callback body of `kind` at `stage` (see `STAGES`), as the Suno API sends it.

    The same arguments give the same body (a new random task id when `task_id` is None), so
    sending it twice is what a redelivery looks like.
    `code`, `msg` and `data` in `fields` replace the top-level keys; any other field is set
    inside `data` (e.g. `callbackType="FIRST"`).
    """
    if kind not in STAGES:
        raise ValueError(f"Unknown callback kind {kind!r}; one of {', '.join(STAGES)}.")
    if stage not in STAGES[kind]:
        raise ValueError(
            f"{kind} callbacks have the stages {', '.join(STAGES[kind])}, not {stage!r}."
        )
    task_id = task_id or uuid.uuid4().hex
    body = _music(task_id, stage) if kind == "music" else _single(kind, task_id, stage != "error")
    for name, value in fields.items():
        if name in ("code", "msg", "data") or not isinstance(body.get("data"), dict):
            body[name] = copy.deepcopy(value)
        else:
            body["data"][name] = copy.deepcopy(value)
    return body


def encode(body: dict[str, Any] | bytes | str) -> bytes:
    """A body as the bytes that go on the wire (compact JSON, UTF-8)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def sign_headers(
    body: dict[str, Any] | bytes | str,
    hmac_key: str | bytes,
    timestamp: int | None = None,
    *,
    task_id: str | None = None,
) -> dict[str, str]:
    """The headers Kie sends with `body`: JSON content type, `X-Webhook-Timestamp` and
    `X-Webhook-Signature` over the body's task id (or `task_id`) and the timestamp (default now)."""
    if task_id is None:
        obj = body if isinstance(body, dict) else json.loads(encode(body))
        task_id = find_task_id(obj)
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Content-Type": "application/json",
        "X-Webhook-Timestamp": str(stamp),
        "X-Webhook-Signature": compute_signature(hmac_key, task_id, stamp),
    }


class CapturedEvents(list[Event]):
    """The events dispatched while capturing, in order (a list, with two filters)."""

    def __call__(self, sender: Any, event: Event, **extra: Any) -> None:
        self.append(event)

    def of_task(self, task_id: str) -> list[Event]:
        """The captured events of one task."""
        return [event for event in self if event.task_id == task_id]

    @property
    def completed(self) -> list[Event]:
        """The captured events of tasks that finished successfully."""
        return [event for event in self if event.status == "completed"]


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Collect every event any receiver dispatches (`callback_received`, whatever the sender)
    inside the block."""
    captured = CapturedEvents()
    with callback_received.connected_to(captured):
        yield captured
