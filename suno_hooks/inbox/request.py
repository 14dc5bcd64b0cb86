"""The page's request and response, whatever the server: built by the WSGI, ASGI and framework
adapters, answered by `InboxCore`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from ..inbound import Headers

__all__ = ["MAX_FORM", "PageRequest", "PageResponse", "page_request_from_environ"]

MAX_FORM = 64 * 1024
"""The largest form body the page reads (a replay form is a few hundred bytes)."""


@dataclass
class PageRequest:
    """A request to the page: `path` is inside the page's mount, `root` is the mount's prefix."""

    method: str
    path: str
    root: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    secure: bool = False
    can_replay: bool = True
    native: Any = None

    @cached_property
    def form(self) -> dict[str, str]:
        """The urlencoded form of a POST (empty for anything else)."""
        content_type = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if self.method != "POST" or content_type != "application/x-www-form-urlencoded":
            return {}
        return dict(parse_qsl(self.body[:MAX_FORM].decode("latin-1")))

    @cached_property
    def cookies(self) -> dict[str, str]:
        """The request's cookies by name."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie") or "")
        except CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}


@dataclass
class PageResponse:
    """A page's answer: status, headers and the encoded body, or for a file too large to hold,
    its `chunks` (`length` bytes in all), read as they are sent."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: Iterable[bytes] | None = None
    length: int = 0

    @property
    def content_length(self) -> int:
        """How many bytes the body has."""
        return len(self.body) if self.chunks is None else self.length

    def parts(self) -> Iterable[bytes]:
        """The body as it is sent: `chunks`, or `body` in one piece."""
        return [self.body] if self.chunks is None else self.chunks

    @classmethod
    def html(
        cls, status: int, text: str, headers: list[tuple[str, str]] | None = None
    ) -> PageResponse:
        """An HTML page that is never cached and never framed by another site."""
        return cls(
            status,
            text.encode("utf-8"),
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-store"),
                ("X-Frame-Options", "DENY"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "same-origin"),
                *(headers or []),
            ],
        )


def page_request_from_environ(
    environ: Mapping[str, Any],
    *,
    path: str,
    root: str,
    body: bytes = b"",
    native: Any = None,
    can_replay: bool = True,
    secure: bool | None = None,
) -> PageRequest:
    """A `PageRequest` from a WSGI environ (or Django's `request.META`, which has its shape)."""
    pairs = [
        (name[5:].replace("_", "-").lower(), str(value))
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            pairs.append((name.replace("_", "-").lower(), str(environ[name])))
    query = environ.get("QUERY_STRING") or ""
    return PageRequest(
        method=str(environ.get("REQUEST_METHOD") or "GET").upper(),
        path=path or "/",
        root=root.rstrip("/"),
        query=dict(parse_qsl(query)) if query else {},
        headers=Headers.from_lower(pairs),
        body=body,
        secure=secure if secure is not None else environ.get("wsgi.url_scheme") == "https",
        can_replay=can_replay,
        native=native,
    )
