"""Shared by the media tests: a real HTTP media server with scripted answers (files, flaky
answers, redirects, slow and endless bodies) that counts every request, and events built from
callback bodies by a real receiver."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from suno_hooks import Event, Receiver
from suno_hooks.media import MediaArchive
from suno_hooks.sandbox import SandboxHandle
from suno_hooks.stores import SQLiteStore
from suno_hooks.testing import capture_events

from .kie_stub import serving
from .sandbox_rig import API_KEY, CREATES, Rig, rig_receiver

LOCAL: dict[str, Any] = {"allowed_hosts": ["127.0.0.1"], "allow_http": True, "allow_private": True}
"""Archive options that let a test fetch from a server on 127.0.0.1."""


def file_bytes(name: str, size: int) -> bytes:
    """The deterministic content the server sends for `name`: `size` bytes."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class MediaServer:
    """The server's request log and script; `url` is its base URL (`http://127.0.0.1:PORT`)."""

    url: str = ""
    requests: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[int]] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    streaming: int = 0
    most_streaming: int = 0

    @property
    def total(self) -> int:
        """How many requests arrived."""
        return sum(self.requests.values())

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next requests for `path` with these statuses first."""
        self.failures.setdefault(path, []).extend(statuses)

    async def endpoint(self, request: Request) -> Response:
        path = request.url.path
        self.requests[path] += 1
        self.headers.append(dict(request.headers))
        queued = self.failures.get(path)
        if queued:
            status = queued.pop(0)
            headers = {"retry-after": "0"} if status == 429 else {}
            return Response(f"scripted {status}", status_code=status, headers=headers)
        kind, _, rest = path.strip("/").partition("/")
        size = int(request.query_params.get("size", "4096"))
        if kind == "files":
            content_type = "audio/mpeg" if rest.endswith(".mp3") else "image/png"
            return Response(file_bytes(rest, size), media_type=content_type)
        if kind == "redirect":
            return RedirectResponse(request.query_params["to"], status_code=302)
        if kind == "endless":
            return StreamingResponse(_endless(rest), media_type="audio/mpeg")
        if kind == "slow":
            step = int(request.query_params.get("step", "4096"))
            return StreamingResponse(self._slow(rest, size, step), media_type="audio/mpeg")
        return Response("no such file", status_code=404)

    async def _slow(self, name: str, size: int, step: int) -> AsyncIterator[bytes]:
        """`name`'s bytes, `step` at a time 0.05 s apart, counting the slow bodies being sent
        at once (`streaming`, and the most there were, `most_streaming`)."""
        data = file_bytes(name, size)
        self.streaming += 1
        self.most_streaming = max(self.most_streaming, self.streaming)
        try:
            for start in range(0, size, step):
                yield data[start : start + step]
                await asyncio.sleep(0.05)
        finally:
            self.streaming -= 1


async def _endless(name: str) -> AsyncIterator[bytes]:
    chunk = file_bytes(name, 64 * 1024)
    for _ in range(100_000):
        yield chunk
        await asyncio.sleep(0)


def media_app(server: MediaServer | None = None) -> Starlette:
    """The media server's ASGI app (a new `MediaServer` unless given): for uvicorn's
    `--factory`, so a benchmark can serve it from a process of its own."""
    server = server or MediaServer()
    return Starlette(routes=[Route("/{path:path}", server.endpoint, methods=["GET"])])


@contextmanager
def media_server() -> Iterator[MediaServer]:
    """A running media server on a free loopback port."""
    server = MediaServer()
    with serving(media_app(server)) as url:
        server.url = url
        yield server


def event_of(body: dict[str, Any], feature: str | None = None) -> Event:
    """The event a receiver dispatches for a trusted callback body."""
    receiver = Receiver(secret_key="media-tests", store="memory://")
    with capture_events() as events:
        receiver.deliver(body, feature=feature, source="callback")
    assert len(events) == 1, events
    return events[0]


def music_body(task_id: str, tracks: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete music callback with `tracks`."""
    return {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"callbackType": "complete", "task_id": task_id, "data": tracks},
    }


def settled_event(rig: Rig, feature: str, **extra: Any) -> Event:
    """Create a `feature` task at the rig's sandbox with the client, wait until it has settled
    and return its terminal event."""
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    with rig.client() as client:
        task_id = client.create(feature, **CREATES[feature], **extra).task_id
    control.wait(task_id)
    control.close()
    (event,) = rig.terminal(task_id)
    return event


@pytest.fixture
def rig(make_rig: Any, tmp_path: Path) -> Rig:
    """The sandbox rig whose receiver keeps its inbox in a SQLite file (`tmp_path/rig.db`)."""
    built: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    return built


@pytest.fixture
def kept_archive(rig: Rig, tmp_path: Path) -> Iterator[MediaArchive]:
    """An archive in `tmp_path/kept`, fetching from the sandbox, connected to the rig."""
    archive = MediaArchive(tmp_path / "kept", **LOCAL, backoff=0.01)
    archive.connect(rig.receiver)
    yield archive
    archive.close()
