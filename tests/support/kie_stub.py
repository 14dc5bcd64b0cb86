"""A scripted Kie-like HTTP server for the client's tests: real HTTP on a free loopback port,
answering each path with the answers queued for it and logging every request."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .services import free_port


@dataclass
class Seen:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class KieStub:
    """The server's script and log; `url` is its base URL."""

    url: str = ""
    answers: dict[str, deque[tuple[int, Any, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    requests: list[Seen] = field(default_factory=list)

    def script(
        self, path: str, *answers: tuple[int, Any] | tuple[int, Any, dict[str, str]]
    ) -> None:
        """Queue answers for `path` (status, JSON body[, headers]); the last one repeats."""
        for answer in answers:
            status, body, *rest = answer
            self.answers[path].append((status, body, rest[0] if rest else {}))

    def seen(self, path: str) -> list[Seen]:
        """The requests received on `path`."""
        return [r for r in self.requests if r.path == path]

    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        self.requests.append(
            Seen(
                request.method,
                request.url.path,
                dict(request.query_params),
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
        )
        queue = self.answers.get(request.url.path)
        if not queue:
            return Response(json.dumps({"code": 404, "msg": "no script"}), 404)
        status, body, headers = queue.popleft() if len(queue) > 1 else queue[0]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Response(content, status, headers, media_type="application/json")


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        thread.join(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def kie() -> Iterator[KieStub]:
    """A running stub; answers must be scripted per path."""
    stub = KieStub()
    app = Starlette(routes=[Route("/{path:path}", stub.endpoint, methods=["GET", "POST"])])
    with serving(app) as url:
        stub.url = url
        yield stub
