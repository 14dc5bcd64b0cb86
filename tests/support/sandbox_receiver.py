"""A receiver app for the sandbox end-to-end tests, run by uvicorn (`asgi`) or gunicorn (`wsgi`)
in its own process: every signal it sends is appended as one JSON line to a file the test reads.

A callback whose URL context holds `fail_once` makes the handler raise the first time each
stage arrives (the receiver answers 500, `retry_on_error=True`), so the sandbox must retry."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from suno_hooks import Event, Receiver, signals
from suno_hooks.asgi import asgi_app
from suno_hooks.wsgi import wsgi_app

LOG = os.environ["SANDBOX_RECEIVER_LOG"]
FAIL_DIR = Path(os.environ["SANDBOX_RECEIVER_FAIL_DIR"])

receiver = Receiver(
    hmac_keys=[os.environ["SANDBOX_RECEIVER_HMAC"]],
    secret_key=os.environ["SANDBOX_RECEIVER_SECRET"],
    store=os.environ["SANDBOX_RECEIVER_STORE"],
    retry_on_error=True,
)


def describe(name: str, event: Event) -> dict[str, Any]:
    """What a test checks of one signal: which, for which stage, and the typed results."""
    return {
        "signal": name,
        "task_id": event.task_id,
        "kind": event.kind,
        "feature": event.feature,
        "stage": event.stage,
        "status": event.status,
        "code": event.code,
        "error": event.error,
        "tracks": [track.audio_url for track in event.tracks],
        "durations": [track.duration for track in event.tracks],
        "lyrics": [variant.title for variant in event.lyrics],
        "wav_url": event.wav_url,
        "stems": event.stems.urls() if event.stems else None,
        "midi": [len(i.notes) for i in event.midi.instruments] if event.midi else None,
        "video_url": event.video_url,
        "images": event.images,
        "result_urls": event.result_urls,
        "model": event.model,
        "source": event.source,
        "pid": os.getpid(),
    }


def recorder(name: str) -> Any:
    def record(sender: Any, event: Event, **extra: Any) -> None:
        if name == "callback_received" and (event.context or {}).get("fail_once"):
            marker = FAIL_DIR / f"{event.task_id}.{event.stage}"
            try:
                marker.touch(exist_ok=False)
            except FileExistsError:
                pass
            else:
                raise RuntimeError("the handler fails the first time, as asked")
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(describe(name, event)) + "\n")

    return record


for _name in ("callback_received", "task_progress", "task_completed", "task_failed"):
    getattr(signals, _name).connect(recorder(_name), weak=False)

asgi = asgi_app(receiver)
wsgi = wsgi_app(receiver)
