"""The callback endpoint as a sync view (WSGI) and an async view (ASGI): request in, `Outcome`
out, nothing else. Both are CSRF-exempt (callbacks are authenticated by signature or token) and
outside `ATOMIC_REQUESTS`: the store commits its own writes, and one delivery's receivers run
in a transaction of their own, so a receiver's database error cannot roll back the inbox."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ...inbound import InboundRequest, content_length
from ...outcome import Outcome
from ...wsgi import inbound_request_with_body, read_wsgi_body
from .conf import get_receiver
from .dispatcher import DjangoDispatcher

__all__ = ["async_callback", "callback", "read_body", "to_inbound_request", "to_response"]


def read_body(request: HttpRequest, max_body: int) -> tuple[bytes, bool]:
    """Read at most `max_body` bytes of the body; the flag says it was longer (nothing kept).

    Under WSGI a chunked body has no Content-Length, and Django then reads nothing: such a body
    is read from the server's own terminated stream, as the plain WSGI adapter does."""
    length = content_length(request.META.get("CONTENT_LENGTH"))
    if length is None and request.META.get("wsgi.input_terminated"):
        return read_wsgi_body(request.META, max_body)
    if length is not None and length > max_body:
        return b"", True
    body = request.read(max_body + 1)
    if len(body) > max_body:
        return b"", True
    return body, False


def to_inbound_request(
    request: HttpRequest, max_body: int, feature: str | None = None
) -> InboundRequest:
    """Translate a Django request into the receiver's request (the body read only for POST);
    `request.META` has the WSGI environ's shape under WSGI and ASGI alike."""
    method = request.method or "GET"
    body, too_large = read_body(request, max_body) if method == "POST" else (b"", False)
    inbound = inbound_request_with_body(request.META, body, too_large, feature)
    scope = getattr(request, "scope", None)
    if scope is not None:
        # Django upper-cases the method; the table answers `post` with 405 on every adapter.
        inbound.method = scope.get("method", method)
    return inbound


def to_response(outcome: Outcome) -> HttpResponse:
    """The receiver's `Outcome` as a JSON `HttpResponse`."""
    response = HttpResponse(outcome.content, status=outcome.status, content_type="application/json")
    for name, value in outcome.headers.items():
        response[name] = value
    return response


@csrf_exempt
@transaction.non_atomic_requests
def callback(request: HttpRequest) -> HttpResponse:
    """Answer one Suno callback synchronously (WSGI)."""
    receiver = get_receiver()
    return to_response(receiver.handle(to_inbound_request(request, receiver.max_body)))


@csrf_exempt
@transaction.non_atomic_requests
async def async_callback(request: HttpRequest) -> HttpResponse:
    """Answer one Suno callback on the event loop (ASGI); store and signals never block it."""
    receiver = get_receiver()
    inbound = to_inbound_request(request, receiver.max_body)
    outcome = await receiver.ahandle(inbound)
    if outcome.error is not None and isinstance(receiver.dispatcher, DjangoDispatcher):
        await receiver.dispatcher.settle()
    return to_response(outcome)
