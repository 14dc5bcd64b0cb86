"""The hand-written baseline every benchmark compares against: a pydantic model of a music
callback equivalent to what suno-hooks parses, validated with `model_validate_json`; and what
the hand-written HTTP endpoints share: the check of Kie's signature under `KEY` (`verified`) and
their JSON answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from pydantic import BaseModel

KEY = "whk_http_benchmark_key"
"""The key every request of `benchmarks/http_adapters.py` is signed with."""
ANSWERS = {True: b'{"status": "received"}', False: b'{"status": "duplicate"}'}
"""A hand-written endpoint's answer to a new callback (True) and to a duplicate (False)."""
FORGED = b'{"error": "invalid_signature"}'
_KEY_BYTES = KEY.encode()


class BaselineTrack(BaseModel):
    """A track, with the fields `suno_hooks.Track` types."""

    id: str | None = None
    audio_url: str | None = None
    stream_audio_url: str | None = None
    image_url: str | None = None
    prompt: str | None = None
    model_name: str | None = None
    title: str | None = None
    tags: str | None = None
    createTime: datetime | None = None  # noqa: N815 (the wire name)
    duration: float | None = None


class BaselineData(BaseModel):
    """The callback's `data` object."""

    callbackType: str  # noqa: N815 (the wire name)
    task_id: str
    data: list[BaselineTrack] | None = None


class BaselineCallback(BaseModel):
    """A music callback body."""

    code: int
    msg: str
    data: BaselineData


def verified(body: bytes, timestamp: str | None, signature: str | None) -> BaselineCallback:
    """Validate the model, then check the signature (HMAC-SHA256 of `task_id.timestamp` under
    `KEY`, base64); PermissionError when it does not match."""
    callback = BaselineCallback.model_validate_json(body)
    message = f"{callback.data.task_id}.{timestamp}".encode()
    expected = base64.b64encode(hmac.new(_KEY_BYTES, message, hashlib.sha256).digest())
    if signature is None or not hmac.compare_digest(expected, signature.encode()):
        raise PermissionError("invalid signature")
    return callback
