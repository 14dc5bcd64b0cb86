"""WSGI and ASGI specifics: pass-through of other paths, chunked bodies, limits, lifespan."""

from __future__ import annotations

import asyncio
from typing import Any

from werkzeug.test import Client

from suno_hooks.asgi import SunoHooksASGIMiddleware, asgi_app, to_inbound_request
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback
from suno_hooks.wsgi import SunoHooksMiddleware

from ..conftest import Calls, unverified_receiver


def inner_wsgi(environ: dict, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"inner:" + environ["PATH_INFO"].encode()]


def test_wsgi_middleware_passes_other_paths_through(calls: Calls):
    app = SunoHooksMiddleware(
        inner_wsgi, unverified_receiver(store=MemoryStore()), path="/suno/callback"
    )
    client = Client(app)
    assert client.get("/elsewhere").get_data() == b"inner:/elsewhere"
    assert client.post("/suno/callback", data=encode(make_callback())).status_code == 200
    assert client.post("/suno/callback/", data=encode(make_callback())).status_code == 200
    assert calls.count == 2


def test_wsgi_chunked_body_is_bounded(calls: Calls):
    import io

    receiver = unverified_receiver(store=MemoryStore(), max_body=100)
    app = SunoHooksMiddleware(inner_wsgi, receiver)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/suno/callback",
        "wsgi.input_terminated": True,
        "wsgi.input": io.BytesIO(b"x" * 10_000),
        "REMOTE_ADDR": "127.0.0.1",
    }
    statuses: list[str] = []
    app(environ, lambda status, headers: statuses.append(status))
    assert statuses[0].startswith("413 ")
    assert calls.count == 0


async def run_asgi(app: Any, scope: dict, messages: list[dict]) -> list[dict]:
    sent: list[dict] = []
    queue = list(messages)

    async def receive() -> dict:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(path: str = "/suno/callback", headers: list | None = None) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
    }


async def test_asgi_chunked_body_is_read_and_bounded(calls: Calls):
    body = encode(make_callback())
    app = asgi_app(unverified_receiver(store=MemoryStore()))
    chunks = [
        {"type": "http.request", "body": body[i : i + 100], "more_body": True}
        for i in range(0, len(body), 100)
    ]
    chunks.append({"type": "http.request", "body": b"", "more_body": False})
    sent = await run_asgi(app, http_scope(), chunks)
    assert sent[0]["status"] == 200 and calls.count == 1

    small = asgi_app(unverified_receiver(store=MemoryStore(), max_body=100))
    sent = await run_asgi(small, http_scope(), chunks)
    assert sent[0]["status"] == 413 and calls.count == 1
    declared = http_scope(headers=[(b"content-length", b"999999")])
    sent = await run_asgi(small, declared, [])
    assert sent[0]["status"] == 413


async def test_asgi_disconnect_before_body_sends_nothing(calls: Calls):
    app = asgi_app(unverified_receiver(store=MemoryStore()))
    sent = await run_asgi(app, http_scope(), [{"type": "http.disconnect"}])
    assert sent == [] and calls.count == 0


async def test_asgi_middleware_passes_other_paths_and_lifespan_through():
    seen: list[str] = []

    async def inner(scope: dict, receive: Any, send: Any) -> None:
        seen.append(scope["type"] + ":" + scope.get("path", ""))

    app = SunoHooksASGIMiddleware(inner, unverified_receiver(store=MemoryStore()))
    await run_asgi(app, http_scope("/other"), [])
    await run_asgi(app, {"type": "lifespan"}, [])
    assert seen == ["http:/other", "lifespan:"]


async def test_standalone_asgi_lifespan_and_404():
    app = asgi_app(unverified_receiver(store=MemoryStore()))
    sent = await run_asgi(
        app, {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent = await run_asgi(app, http_scope("/nope"), [])
    assert sent[0]["status"] == 404


async def test_asgi_headers_repeated_names_are_joined_and_names_are_case_free():
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/suno/callback",
        "headers": [
            (b"content-type", b"application/json"),
            (b"x-forwarded-for", b"203.0.113.7"),
            (b"x-forwarded-for", b"10.0.0.2"),
        ],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    request = await to_inbound_request(scope, receive, 1024)
    assert request.headers["X-Forwarded-For"] == "203.0.113.7,10.0.0.2"
    assert request.headers.get("Content-Type") == "application/json"
    assert request.body == b"{}"


def test_wsgi_header_names_are_read_whatever_names_a_client_invents():
    from suno_hooks import wsgi

    for n in range(2 * wsgi._MAX_HEADER_NAMES):
        environ = {"REQUEST_METHOD": "POST", f"HTTP_X_INVENTED_{n}": "v", "HTTP_USER_AGENT": "kie"}
        request = wsgi.inbound_request_with_body(environ, b"{}")
        assert request.headers.get(f"X-Invented-{n}") == "v"
        assert request.headers["user-agent"] == "kie"
    assert len(wsgi._HEADER_NAMES) <= wsgi._MAX_HEADER_NAMES
