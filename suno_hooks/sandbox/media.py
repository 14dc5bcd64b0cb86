"""The sandbox's media files: small, deterministic audio (MP3 frames of silence, a WAV tone),
image (PNG) and video (a playable MP4 clip) bytes served at the sandbox's own URLs, with the
`media:missing`, `media:slow` and `media:expired` scenarios."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import struct
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from importlib import resources
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .tasks import TaskBook
from .timing import Timing

__all__ = ["MEDIA_PREFIX", "MediaHost", "media_bytes", "media_routes"]

MEDIA_PREFIX = "/media"
"""Where the sandbox serves the files its callbacks name: `/media/{task_id}/{name}`."""
_CHUNK = 4096
_EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>\n"
)


def _seed(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def _mp3(name: str) -> bytes:
    # MPEG-1 Layer III frames, 128 kbit/s at 44.1 kHz (417 bytes each), whose zeroed side
    # information decodes as silence: about 2.6 s of audio.
    header = bytes((0xFF, 0xFB, 0x90, 0x44))
    frame = header + bytes(417 - len(header))
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * 100 + _seed(name)[:4]


def _wav(name: str) -> bytes:
    rate, pitch = 8000, 220 + _seed(name)[0]
    samples = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * pitch * n / rate)))
        for n in range(rate)
    )
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(samples), b"WAVE", b"fmt ", 16,
                         1, 1, rate, rate * 2, 2, 16, b"data", len(samples))  # fmt: skip
    return header + samples


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png(name: str) -> bytes:
    red, green, blue = _seed(name)[:3]
    size = 64
    rows = b"".join(
        b"\x00"
        + b"".join(bytes(((x * 4 + red) % 256, (y * 4 + green) % 256, blue)) for x in range(size))
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    image = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + image


@functools.cache
def _clip() -> bytes:
    return resources.files("suno_hooks.sandbox").joinpath("clip.mp4").read_bytes()


def _mp4(name: str) -> bytes:
    # A one-second 64x64 clip (H.264 baseline video of a test pattern and an AAC tone, its
    # index first), made with ffmpeg; a trailing `free` box, which players skip, makes each
    # file's bytes its own.
    mark = b"suno-hooks sandbox " + _seed(name)
    return _clip() + struct.pack(">I", 8 + len(mark)) + b"free" + mark


_MAKERS = {
    ".mp3": (_mp3, "audio/mpeg"),
    ".wav": (_wav, "audio/wav"),
    ".png": (_png, "image/png"),
    ".mp4": (_mp4, "video/mp4"),
}


def media_bytes(name: str) -> tuple[bytes, str] | None:
    """The bytes and content type of the sandbox file `name` (`{task_id}/{file}`), the same
    every time; None for a kind of file the sandbox does not make."""
    for extension, (make, content_type) in _MAKERS.items():
        if name.endswith(extension):
            return make(name), content_type
    return None


async def _slowly(data: bytes, delay: float) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _CHUNK):
        await asyncio.sleep(delay)
        yield data[start : start + _CHUNK]


class MediaHost(Protocol):
    """What the media routes read from the sandbox: its tasks, its timing and a request count."""

    book: TaskBook
    timing: Timing
    media_requests: Counter[str]


def media_routes(sandbox: MediaHost) -> list[Route]:
    """The route serving the files of `sandbox`'s tasks; it counts requests per path in
    `requests`."""
    requests: Counter[str] = sandbox.media_requests

    async def serve(request: Request) -> Response:
        requests[request.url.path] += 1
        task = sandbox.book.get(request.path_params["task_id"])
        name = f"{request.path_params['task_id']}/{request.path_params['name']}"
        made = media_bytes(name) if task is not None else None
        if task is None or made is None:
            return Response("Not found.", status_code=404, media_type="text/plain")
        modes = {s.arg for s in task.scenarios if s.name == "media"}
        if "missing" in modes:
            return Response("Not found.", status_code=404, media_type="text/plain")
        if "expired" in modes:
            return Response(_EXPIRED, status_code=403, media_type="application/xml")
        data, content_type = made
        if "slow" in modes:
            length = {"content-length": str(len(data))}
            stream = _slowly(data, sandbox.timing.media_delay)
            return StreamingResponse(stream, media_type=content_type, headers=length)
        return Response(data, media_type=content_type)

    return [Route(f"{MEDIA_PREFIX}/{{task_id}}/{{name}}", serve, methods=["GET"])]
