"""Shared by the sandbox tests: a valid create request per family, and the receiver servers
(uvicorn for ASGI, gunicorn for WSGI) that run `tests/support/sandbox_receiver.py`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suno_hooks import Receiver
from suno_hooks.sandbox.tasks import SAMPLE_AUDIO_ID, SAMPLE_TASK_ID

from .services import free_port, running

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SANDBOX_HMAC = "whk_sandbox_e2e_key"
SANDBOX_SECRET = "sandbox-e2e-secret"
# The song every sandbox knows, so derived tasks (WAV, video, MIDI, stems) have a source.
SOURCE_TASK = SAMPLE_TASK_ID
SOURCE_AUDIO = SAMPLE_AUDIO_ID

# A valid create request for every family, without callBackUrl: (path, body).
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "generate": (
        "/api/v1/generate",
        {
            "prompt": "A calm piano piece",
            "customMode": False,
            "instrumental": True,
            "model": "V4_5",
        },
    ),
    "extend": (
        "/api/v1/generate/extend",
        {"defaultParamFlag": False, "audioId": SOURCE_AUDIO, "model": "V4_5", "prompt": "more"},
    ),
    "upload_cover": (
        "/api/v1/generate/upload-cover",
        {
            "uploadUrl": "https://files.example.com/up.mp3",
            "prompt": "as jazz",
            "customMode": False,
            "instrumental": False,
            "model": "V4_5",
        },
    ),
    "upload_extend": (
        "/api/v1/generate/upload-extend",
        {
            "uploadUrl": "https://files.example.com/up.mp3",
            "defaultParamFlag": False,
            "instrumental": False,
            "continueAt": 30,
            "model": "V4_5",
        },
    ),
    "add_instrumental": (
        "/api/v1/generate/add-instrumental",
        {
            "uploadUrl": "https://files.example.com/vocals.mp3",
            "title": "Backing",
            "negativeTags": "metal",
            "tags": "folk",
        },
    ),
    "add_vocals": (
        "/api/v1/generate/add-vocals",
        {
            "prompt": "la la la",
            "title": "Sung",
            "negativeTags": "metal",
            "style": "pop",
            "uploadUrl": "https://files.example.com/beat.mp3",
        },
    ),
    "mashup": (
        "/api/v1/generate/mashup",
        {
            "uploadUrlList": ["https://files.example.com/a.mp3", "https://files.example.com/b.mp3"],
            "customMode": False,
            "model": "V4_5",
        },
    ),
    "replace_section": (
        "/api/v1/generate/replace-section",
        {
            "taskId": SOURCE_TASK,
            "audioId": SOURCE_AUDIO,
            "prompt": "A brighter chorus",
            "tags": "pop",
            "title": "Brighter",
            "infillStartS": 10.5,
            "infillEndS": 20.75,
            "fullLyrics": "[Verse] as before\n[Chorus] a brighter chorus",
        },
    ),
    "lyrics": ("/api/v1/lyrics", {"prompt": "a song about the sea"}),
    "wav": ("/api/v1/wav/generate", {"taskId": SOURCE_TASK, "audioId": SOURCE_AUDIO}),
    "vocal_removal": (
        "/api/v1/vocal-removal/generate",
        {"taskId": SOURCE_TASK, "audioId": SOURCE_AUDIO, "type": "split_stem"},
    ),
    "midi": ("/api/v1/midi/generate", {"taskId": SOURCE_TASK}),
    "video": ("/api/v1/mp4/generate", {"taskId": SOURCE_TASK, "audioId": SOURCE_AUDIO}),
    "cover_image": ("/api/v1/suno/cover/generate", {"taskId": SOURCE_TASK}),
}

MARKET_REQUESTS: dict[str, dict[str, Any]] = {
    "ai-music-api/generate": {"prompt": "A calm piano piece", "model": "V5"},
    "ai-music-api/replace-section": {
        "task_id": SOURCE_TASK,
        "audio_id": SOURCE_AUDIO,
        "prompt": "A brighter chorus",
        "tags": "pop",
        "title": "Brighter",
        "infill_start_s": 10.5,
        "infill_end_s": 20.75,
        "full_lyrics": "[Chorus] brighter",
    },
    "ai-music-api/generate-lyrics": {"prompt": "a song about the sea"},
    "ai-music-api/convert-to-wav-format": {"task_id": SOURCE_TASK, "audio_id": SOURCE_AUDIO},
    "ai-music-api/create-music-video": {"task_id": SOURCE_TASK, "audio_id": SOURCE_AUDIO},
}


@dataclass
class ReceiverServer:
    """A receiver process: where it listens, the signal log it writes and its store."""

    name: str
    url: str
    log: Path
    store: str
    minting: Receiver

    def callback_url(self, feature: str | None, **context: Any) -> str:
        """A signed callback URL for `feature`, with `context` when given."""
        return self.minting.callback_url(self.url, feature=feature, context=context or None)

    def signals(self, task_id: str) -> list[dict[str, Any]]:
        """Every signal the receiver sent for `task_id`, in order."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [entry for entry in map(json.loads, lines) if entry["task_id"] == task_id]


@contextmanager
def receiver_server(name: str, directory: Path) -> Iterator[ReceiverServer]:
    """`tests/support/sandbox_receiver.py` under uvicorn (`name="uvicorn"`) or gunicorn (2
    workers)."""
    port = free_port()
    (directory / "failed").mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{directory / 'inbox.db'}"
    env = dict(
        os.environ,
        SANDBOX_RECEIVER_LOG=str(directory / "signals.jsonl"),
        SANDBOX_RECEIVER_FAIL_DIR=str(directory / "failed"),
        SANDBOX_RECEIVER_HMAC=SANDBOX_HMAC,
        SANDBOX_RECEIVER_SECRET=SANDBOX_SECRET,
        SANDBOX_RECEIVER_STORE=store,
        PYTHONPATH=str(ROOT),
    )
    bind = ["127.0.0.1", str(port)]
    if name == "uvicorn":
        command = [str(BIN / "uvicorn"), "tests.support.sandbox_receiver:asgi", "--host", bind[0]]
        command += ["--port", bind[1], "--log-level", "warning"]
    else:
        command = [str(BIN / "gunicorn"), "tests.support.sandbox_receiver:wsgi", "-w", "2"]
        command += ["-b", ":".join(bind), "--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    with running(command, base + "/", env=env, cwd=ROOT):
        minting = Receiver(secret_key=SANDBOX_SECRET, store="memory://")
        yield ReceiverServer(
            name, base + "/suno/callback", directory / "signals.jsonl", store, minting
        )
