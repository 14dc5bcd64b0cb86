"""The page as an ASGI app (`inbox_asgi_app`): the same `InboxCore` as WSGI, its pages read and
rendered on a worker thread so the store never blocks the event loop, and replays awaited on the
serving loop (`Receiver.areplay`), where async handlers and what they hold live."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any
from urllib.parse import parse_qsl

from ..asgi import ASGIApp, ClientDisconnected, Receive, Scope, Send, read_asgi_body
from ..inbound import Headers
from ..receiver import Receiver
from .core import MountedInbox
from .request import MAX_FORM, PageRequest, PageResponse

__all__ = ["InboxASGIApp", "inbox_asgi_app", "page_request_from_scope", "send_page"]

logger = logging.getLogger("suno_hooks.inbox")


async def page_request_from_scope(scope: Scope, receive: Receive) -> PageRequest:
    """A `PageRequest` from an ASGI HTTP scope; the path is taken relative to `root_path`."""
    root = scope.get("root_path", "") or ""
    path = scope.get("path", "/") or "/"
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    method = scope["method"].upper()
    body = b""
    if method == "POST":
        body, _ = await read_asgi_body(receive, MAX_FORM)
    query = scope.get("query_string", b"").decode("latin-1")
    headers = Headers.from_lower(
        [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
    )
    return PageRequest(
        method=method,
        path=path,
        root=root.rstrip("/"),
        query=dict(parse_qsl(query)) if query else {},
        headers=headers,
        body=body,
        secure=scope.get("scheme") == "https",
        native=scope,
    )


async def send_page(send: Send, response: PageResponse) -> None:
    """Send a `PageResponse` as an ASGI response."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(response.content_length).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.chunks is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    chunks = iter(response.chunks)  # a file: each chunk read on a worker thread
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class InboxASGIApp(MountedInbox):
    """Serves the page wherever it is mounted (`root_path` is its root); `auth` may be async.
    Without `auth` it answers only requests whose `Host` is `localhost`, `127.0.0.1` or `[::1]`.
    Scopes that are not HTTP (lifespan) go to `fallback` when given."""

    def __init__(
        self, receiver: Receiver, *, fallback: ASGIApp | None = None, **options: Any
    ) -> None:
        super().__init__(receiver, **options)
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            return
        try:
            request = await page_request_from_scope(scope, receive)
        except ClientDisconnected:
            return
        verdict: Any = self.auth(request)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict is not True:
            await send_page(send, self.core.denied(self.auth))
            return
        if request.method == "POST" and request.path.rstrip("/") == "/replay":
            await send_page(send, await self._replay(request))
            return
        await send_page(send, await asyncio.to_thread(self.core.handle, request))

    async def _replay(self, request: PageRequest) -> PageResponse:
        """A replay from the page: the handlers run on this loop, as for a live callback."""
        core = self.core
        try:
            asked = core.replay_asked(request)
            if isinstance(asked, PageResponse):
                return asked
            try:
                outcome = await core.receiver.areplay(asked.key, force=asked.force)
            except KeyError:
                return await asyncio.to_thread(core.gone, request)
            return await asyncio.to_thread(core.replayed, request, asked.key, outcome)
        except Exception:
            logger.exception("suno-hooks inbox: could not answer %s", request.path)
            return core.failed(request)


def inbox_asgi_app(receiver: Receiver, **options: Any) -> InboxASGIApp:
    """The inbox page as an ASGI app over `receiver`'s store (`auth=`, `secret_key=`); without
    `auth` it answers only at `localhost`, `127.0.0.1` or `[::1]` (any other `Host` gets a 400).
    With `auth`, the receiver's secret (or `secret_key=`) keys the replay form's CSRF tokens.
    `media=` (the archive's target) lets the page play kept copies once the originals expired."""
    return InboxASGIApp(receiver, **options)
