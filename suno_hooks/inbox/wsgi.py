"""The page as a WSGI app (`inbox_wsgi_app`): environ in, `InboxCore` answer out."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from ..receiver import Receiver
from ..wsgi import StartResponse, WSGIEnviron, read_wsgi_body
from .core import MountedInbox
from .guards import Check
from .request import MAX_FORM, PageRequest, PageResponse, page_request_from_environ

__all__ = ["InboxWSGIApp", "inbox_wsgi_app", "start_page"]


def start_page(response: PageResponse, start_response: StartResponse) -> Iterable[bytes]:
    """Send a `PageResponse` through WSGI's `start_response`."""
    phrase = HTTPStatus(response.status).phrase
    headers = [*response.headers, ("Content-Length", str(response.content_length))]
    start_response(f"{response.status} {phrase}", headers)
    return response.parts()


def allowed(auth: Check | None, request: PageRequest) -> bool:
    """Run a synchronous access check (an async one cannot run under WSGI)."""
    if auth is None:
        return True
    verdict = auth(request)
    if not isinstance(verdict, bool):
        raise TypeError("Under WSGI the inbox's access check must return a bool, not a coroutine.")
    return verdict


class InboxWSGIApp(MountedInbox):
    """Serves the page wherever it is mounted (`SCRIPT_NAME` is its root); `auth` is a check of
    the `PageRequest` (e.g. `BasicAuth`). Without `auth` it answers only requests whose `Host` is
    `localhost`, `127.0.0.1` or `[::1]`."""

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        body = b""
        if environ.get("REQUEST_METHOD") == "POST":
            body, _ = read_wsgi_body(environ, MAX_FORM)
        request = page_request_from_environ(
            environ,
            path=environ.get("PATH_INFO") or "/",
            root=environ.get("SCRIPT_NAME") or "",
            body=body,
            native=environ,
        )
        if not allowed(self.auth, request):
            return start_page(self.core.denied(self.auth), start_response)
        return start_page(self.core.handle(request), start_response)


def inbox_wsgi_app(receiver: Receiver, **options: Any) -> InboxWSGIApp:
    """The inbox page as a WSGI app over `receiver`'s store (`auth=`, `secret_key=`); without
    `auth` it answers only at `localhost`, `127.0.0.1` or `[::1]` (any other `Host` gets a 400).
    With `auth`, the receiver's secret (or `secret_key=`) keys the replay form's CSRF tokens.
    `media=` (the archive's target) lets the page play kept copies once the originals expired."""
    return InboxWSGIApp(receiver, **options)
