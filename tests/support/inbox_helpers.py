"""Inboxes for the page tests: every fixture body delivered, and fresh music callbacks whose
files point where a test says."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from blinker import Signal

from suno_hooks import Receiver, callback_received, task_completed
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.inbox import inbox_asgi_app, inbox_wsgi_app
from suno_hooks.outcome import Outcome
from suno_hooks.testing import encode, make_callback

from ..conftest import callback_files, fixture_bytes
from .browser import asgi_server, wsgi_server

FAMILIES = ("music", "lyrics", "wav", "stems", "midi", "video", "cover_image", "recovery", "voice")


def deliver(receiver: Receiver, body: bytes | dict[str, Any]) -> Outcome:
    """Hand one callback body to the receiver as an unsigned POST."""
    raw = body if isinstance(body, bytes) else encode(body)
    request = InboundRequest(
        method="POST",
        body=raw,
        headers=Headers.of({"content-type": "application/json"}),
        path="/suno/callback",
        peer="203.0.113.7",
    )
    return receiver.handle(request)


def deliver_fixtures(receiver: Receiver) -> None:
    """Every fixture body of tests/fixtures, one delivery each, heard by a handler (so each is
    `done`)."""
    with callback_received.connected_to(_heard):
        for name in callback_files():
            deliver(receiver, fixture_bytes(name))


def _heard(sender: Any, **extra: Any) -> None:
    """A handler that does nothing."""


def song(
    title: str,
    *,
    audio_url: str,
    image_url: str,
    task_id: str | None = None,
    created: float | None = None,
) -> dict[str, Any]:
    """A complete music callback with one track made at `created` (default: now)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created or time.time()))
    track = {
        "id": str(uuid.uuid4()),
        "audio_url": audio_url,
        "stream_audio_url": audio_url + "?stream=1",
        "image_url": image_url,
        "prompt": "[Verse]\nNeon rain on the window\n[Chorus]\nWe glow",
        "model_name": "chirp-v4-5",
        "title": title,
        "tags": "synthwave, dreamy",
        "createTime": when,
        "duration": 3.0,
    }
    body = make_callback("music", "complete", task_id=task_id or uuid.uuid4().hex)
    body["data"]["data"] = [track]
    return body


class FailingHandler:
    """A `task_completed` receiver of one receiver's callbacks that raises while `broken`."""

    def __repr__(self) -> str:
        return "print_label"

    def __init__(self) -> None:
        self.broken = True
        self.runs = 0

    def __call__(self, sender: Any, event: Any, **extra: Any) -> None:
        self.runs += 1
        if self.broken:
            raise RuntimeError("label printer jammed <b>now</b>")


@contextmanager
def failing_handler(
    receiver: Receiver, signal: Signal = task_completed
) -> Iterator[FailingHandler]:
    """Connect a `FailingHandler` to `signal` (by default `task_completed`) for callbacks sent
    by `receiver` for the `with` block."""
    handler = FailingHandler()
    signal.connect(handler, sender=receiver, weak=False)
    try:
        yield handler
    finally:
        signal.disconnect(handler, sender=receiver)


Serve = Callable[[Receiver], str]
"""Starts a receiver's inbox page under a real server and answers its base URL."""


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Serve a receiver's inbox page under a real server (werkzeug or uvicorn); its base URL."""
    with ExitStack() as stack:

        def start(receiver: Receiver) -> str:
            if request.param == "wsgi":
                return stack.enter_context(wsgi_server(inbox_wsgi_app(receiver)))
            return stack.enter_context(asgi_server(inbox_asgi_app(receiver)))

        yield start
