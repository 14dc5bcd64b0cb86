"""ASGI: `SunoHooksASGIMiddleware` mounts the receiver at one path of any ASGI app; `asgi_app`
stands alone. Raw ASGI, no framework: scope and messages in, `Outcome` out."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from .errors import SunoHooksException
from .inbound import Headers, InboundRequest, content_length
from .outcome import Outcome
from .receiver import Receiver

__all__ = [
    "SunoHooksASGIMiddleware",
    "answer_callback",
    "asgi_app",
    "close_store",
    "read_asgi_body",
    "send_outcome",
    "to_inbound_request",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ClientDisconnected(SunoHooksException):
    """The client went away before the whole body arrived; nothing is answered."""


async def read_asgi_body(receive: Receive, max_body: int) -> tuple[bytes, bool]:
    """Read the body, stopping past `max_body` (chunked too); the flag says it was longer."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > max_body:
                return b"", True
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), False


async def to_inbound_request(
    scope: Scope, receive: Receive, max_body: int, feature: str | None = None
) -> InboundRequest:
    """Translate an ASGI HTTP scope (and its body) into the receiver's request."""
    raw_headers = scope["headers"]
    headers = Headers(
        {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
    )
    if len(headers) != len(raw_headers):  # a repeated name: its values are joined
        headers = Headers.from_lower(
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers]
        )
    method = scope["method"]
    too_large = False
    body = b""
    if method == "POST":
        length = content_length(dict.get(headers, "content-length"))
        if length is not None and length > max_body:
            too_large = True
        else:
            body, too_large = await read_asgi_body(receive, max_body)
    query_string = scope.get("query_string", b"")
    client = scope.get("client")
    return InboundRequest(
        method=method,
        body=body,
        headers=headers,
        query=dict(parse_qsl(query_string.decode("latin-1"))) if query_string else {},
        path=scope.get("path", "/"),
        peer=client[0] if client else None,
        feature=feature,
        body_too_large=too_large,
    )


async def send_outcome(send: Send, outcome: Outcome) -> None:
    """Send an `Outcome` as an ASGI response."""
    content = outcome.content
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if outcome.headers:
        headers.extend(
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers.items()
        )
    await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def answer_callback(
    receiver: Receiver,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    acknowledge_first: bool = False,
    feature: str | None = None,
) -> Outcome | None:
    """Answer one callback request and return the answer (None when the client went away).

    With `acknowledge_first`, the 200 goes out once the delivery is stored and the receivers
    run after it (a failure is kept as `failed` for replay)."""
    try:
        request = await to_inbound_request(scope, receive, receiver.max_body, feature)
    except ClientDisconnected:
        return None
    if not acknowledge_first:
        outcome = await receiver.ahandle(request)
        await send_outcome(send, outcome)
        return outcome
    outcome, dispatch = await receiver.aacknowledge(request)
    await send_outcome(send, outcome)
    if dispatch is not None:
        await dispatch()
    return outcome


class SunoHooksASGIMiddleware:
    """Answers callbacks at `path` and passes everything else to the wrapped ASGI app."""

    def __init__(
        self,
        app: ASGIApp,
        receiver: Receiver,
        *,
        path: str = "/suno/callback",
        acknowledge_first: bool = False,
        on_outcome: Callable[[Scope, Outcome], None] | None = None,
    ) -> None:
        self.app = app
        self.receiver = receiver
        self.acknowledge_first = acknowledge_first
        self.paths = {path.rstrip("/") or "/", path.rstrip("/") + "/"}
        self.on_outcome = on_outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        outcome = await answer_callback(
            self.receiver, scope, receive, send, acknowledge_first=self.acknowledge_first
        )
        if outcome is not None and self.on_outcome is not None:
            self.on_outcome(scope, outcome)


class _NotFoundApp:
    """The app behind a standalone receiver: 404 JSON for HTTP, lifespan closes the store."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await close_store(self.receiver)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        error = {"error": "not_found", "detail": "Nothing is served at this path."}
        await send_outcome(send, Outcome(404, error))


async def close_store(receiver: Receiver) -> None:
    """Close the receiver's store (`aclose` when it has one), as an app shuts down."""
    store: Any = receiver.store
    closer = getattr(store, "aclose", None)
    if closer is not None:
        result = closer()
        if inspect.isawaitable(result):
            await result
    else:
        store.close()


def asgi_app(
    receiver: Receiver,
    *,
    path: str = "/suno/callback",
    acknowledge_first: bool = False,
    on_outcome: Callable[[Scope, Outcome], None] | None = None,
) -> SunoHooksASGIMiddleware:
    """A standalone ASGI app serving only the callback endpoint (404 JSON elsewhere);
    `on_outcome(scope, outcome)` is called after each answer (logging, metrics)."""
    return SunoHooksASGIMiddleware(
        _NotFoundApp(receiver),
        receiver,
        path=path,
        acknowledge_first=acknowledge_first,
        on_outcome=on_outcome,
    )
