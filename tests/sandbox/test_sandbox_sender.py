"""The sandbox's sender against small ASGI endpoints that misbehave on purpose: no answer in
time, non-2xx answers, nobody listening; plus Kie's signature headers and their absence."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

from suno_hooks.sandbox import SandboxHandle, Timing, serve_asgi, serve_sandbox

from ..support.sandbox_helpers import REQUESTS
from ..support.services import free_port

Scope = dict[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class Endpoint:
    """An ASGI callback endpoint that records each request and answers `status`, or never
    answers while `hang` is set (until the test ends)."""

    def __init__(self, status: int = 200, *, hang: bool = False) -> None:
        self.status = status
        self.hang = hang
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.release: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def unblock(self) -> None:
        """Let the hanging answers go (from the test's thread), so the server stops at once."""
        if self.loop is not None and self.release is not None:
            self.loop.call_soon_threadsafe(self.release.set)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append((headers, json.loads(body)))
        if self.hang:
            self.release = self.release or asyncio.Event()
            self.loop = asyncio.get_running_loop()
            await self.release.wait()
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok": true}'})


@contextmanager
def pair(endpoint: Endpoint, **options: Any) -> Iterator[tuple[SandboxHandle, str]]:
    with serve_asgi(endpoint) as url, serve_sandbox(**options) as handle:
        yield handle, url + "/callback"


def create_wav(handle: SandboxHandle, callback: str, *scenarios: str) -> dict[str, Any]:
    path, body = REQUESTS["wav"]
    task_id = handle.create(path, body | {"callBackUrl": callback, "sandbox": list(scenarios)})
    return handle.wait(task_id)


def test_a_non_2xx_answer_is_retried_three_times_with_growing_backoff() -> None:
    endpoint = Endpoint(503)
    with pair(endpoint, timing=Timing(backoff=0.05)) as (handle, callback):
        task = create_wav(handle, callback)
    attempts = task["attempts"]
    assert [(a["attempt"], a["status"], a["ok"]) for a in attempts] == [
        (1, 503, False),
        (2, 503, False),
        (3, 503, False),
    ]
    gaps = [later["sent_at"] - earlier["sent_at"] for earlier, later in pairwise(attempts)]
    assert gaps[0] >= 50 and gaps[1] >= 100
    assert len(endpoint.requests) == 3 and attempts[0]["answer"] == {"ok": True}


def test_an_answer_that_does_not_come_in_time_is_a_timeout_and_retried() -> None:
    endpoint = Endpoint(hang=True)
    with pair(endpoint, timing=Timing(timeout=0.2)) as (handle, callback):
        task = create_wav(handle, callback)
        endpoint.unblock()
    assert [a["error"] for a in task["attempts"]] == ["timeout after 0.2 s"] * 3
    assert all(a["latency_ms"] >= 200 and a["status"] is None for a in task["attempts"])


def test_nobody_listening_is_tried_three_times_then_given_up() -> None:
    callback = f"http://127.0.0.1:{free_port()}/callback"
    with serve_sandbox() as handle:
        task = create_wav(handle, callback)
        assert task["state"] == "settled"
    assert [a["attempt"] for a in task["attempts"]] == [1, 2, 3]
    assert all(a["error"].startswith("ConnectError") for a in task["attempts"])


def test_callbacks_carry_kie_signature_headers_when_a_key_is_set() -> None:
    endpoint = Endpoint()
    with pair(endpoint, hmac_key="whk_header_test") as (handle, callback):
        task = create_wav(handle, callback, "duplicate")
    (first, _), (second, _) = endpoint.requests
    for headers in (first, second):
        stamp = headers["x-webhook-timestamp"]
        message = f"{task['task_id']}.{stamp}".encode()
        digest = hmac.new(b"whk_header_test", message, hashlib.sha256).digest()
        assert headers["x-webhook-signature"] == base64.b64encode(digest).decode()
        assert headers["content-type"] == "application/json"
    assert int(second["x-webhook-timestamp"]) > int(first["x-webhook-timestamp"])


def test_callbacks_are_unsigned_without_a_key() -> None:
    endpoint = Endpoint()
    with pair(endpoint) as (handle, callback):
        create_wav(handle, callback)
    ((headers, body),) = endpoint.requests
    assert "x-webhook-signature" not in headers and "x-webhook-timestamp" not in headers
    assert body["code"] == 200 and body["data"]["audioWavUrl"].endswith(".wav")
