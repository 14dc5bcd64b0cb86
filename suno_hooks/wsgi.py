"""WSGI: `SunoHooksMiddleware` mounts the receiver at one path of any WSGI app; `wsgi_app` is
the standalone app.

Pure translation: environ → `InboundRequest`, `Outcome` → status line, headers and body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from .inbound import Headers, InboundRequest, content_length
from .outcome import Outcome
from .receiver import Receiver

__all__ = [
    "SunoHooksMiddleware",
    "inbound_request_with_body",
    "read_bounded",
    "read_wsgi_body",
    "to_inbound_request",
    "wsgi_app",
]

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

_CHUNK = 64 * 1024


def read_wsgi_body(environ: WSGIEnviron, max_body: int) -> tuple[bytes, bool]:
    """Read at most `max_body` bytes of the request body; the flag says it was longer."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b"", False
    length = content_length(environ.get("CONTENT_LENGTH"))
    if length is not None:
        if length > max_body:
            return b"", True
        return stream.read(length) if length else b"", False
    if not environ.get("wsgi.input_terminated"):
        return b"", False
    return read_bounded(stream, max_body)


def read_bounded(stream: Any, max_body: int) -> tuple[bytes, bool]:
    """Read a stream of unknown length to its end, stopping past `max_body` (flag: too long)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK, max_body + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
        if size > max_body:
            return b"", True


def to_inbound_request(
    environ: WSGIEnviron, max_body: int, feature: str | None = None
) -> InboundRequest:
    """Translate a WSGI environ into the receiver's request (the body read only for POST)."""
    method = environ.get("REQUEST_METHOD", "GET")
    body, too_large = read_wsgi_body(environ, max_body) if method == "POST" else (b"", False)
    return inbound_request_with_body(environ, body, too_large, feature)


# Environ keys of HTTP headers seen so far, with their header names: a server sends the same
# few on every request. Bounded, so a client inventing names cannot grow it.
_HEADER_NAMES: dict[str, str] = {}
_MAX_HEADER_NAMES = 256


def inbound_request_with_body(
    environ: WSGIEnviron, body: bytes, too_large: bool = False, feature: str | None = None
) -> InboundRequest:
    """Translate a WSGI environ whose body was already read (by a framework) into the request."""
    headers = Headers()
    names = _HEADER_NAMES
    for name, value in environ.items():
        header = names.get(name)
        if header is None:
            if not name.startswith("HTTP_"):
                continue
            header = name[5:].replace("_", "-").lower()
            if len(names) < _MAX_HEADER_NAMES:
                names[name] = header
        dict.__setitem__(headers, header, value)
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        dict.__setitem__(headers, "content-type", content_type)
    query_string = environ.get("QUERY_STRING")
    return InboundRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        body=body,
        headers=headers,
        query=dict(parse_qsl(query_string)) if query_string else {},
        path=environ.get("PATH_INFO", "/"),
        peer=environ.get("REMOTE_ADDR"),
        feature=feature,
        body_too_large=too_large,
    )


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def respond(outcome: Outcome, start_response: StartResponse) -> list[bytes]:
    """Send an `Outcome` through `start_response`; returns the body iterable."""
    content = outcome.content
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(content)))]
    headers.extend(outcome.headers.items())
    start_response(_STATUS_LINES[outcome.status], headers)
    return [content]


class SunoHooksMiddleware:
    """Answers callbacks at `path` and passes every other request to the wrapped WSGI app."""

    def __init__(self, app: WSGIApp, receiver: Receiver, *, path: str = "/suno/callback") -> None:
        self.app = app
        self.receiver = receiver
        self.paths = {path.rstrip("/") or "/", path.rstrip("/") + "/"}

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") not in self.paths:
            return self.app(environ, start_response)
        request = to_inbound_request(environ, self.receiver.max_body)
        return respond(self.receiver.handle(request), start_response)


def _not_found(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
    body = b'{"error":"not_found","detail":"Nothing is served at this path."}'
    start_response(
        "404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def wsgi_app(receiver: Receiver, *, path: str = "/suno/callback") -> SunoHooksMiddleware:
    """A standalone WSGI app serving only the callback endpoint (404 JSON elsewhere)."""
    return SunoHooksMiddleware(_not_found, receiver, path=path)
