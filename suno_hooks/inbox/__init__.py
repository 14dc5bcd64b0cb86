"""The inbox page: every delivery, one delivery in full (players for its tracks, stems and
video), expected tasks, and replay for failed deliveries. Server-rendered (Jinja2, autoescaped),
no JavaScript, nothing fetched from the internet; needs `pip install 'suno-hooks[inbox]'`.

    app = inbox_asgi_app(receiver, auth=BasicAuth("ops", "secret"))   # or inbox_wsgi_app

Without `auth`, the page answers only requests addressed to `localhost`, `127.0.0.1` or `[::1]`.
"""

from __future__ import annotations

from .asgi import InboxASGIApp, inbox_asgi_app
from .core import InboxCore
from .guards import BasicAuth, CsrfGuard, LoopbackOnly, SignedCsrf, basic_auth, csrf_key
from .request import PageRequest, PageResponse
from .wsgi import InboxWSGIApp, inbox_wsgi_app

__all__ = [
    "BasicAuth",
    "CsrfGuard",
    "InboxASGIApp",
    "InboxCore",
    "InboxWSGIApp",
    "LoopbackOnly",
    "PageRequest",
    "PageResponse",
    "SignedCsrf",
    "basic_auth",
    "csrf_key",
    "inbox_asgi_app",
    "inbox_wsgi_app",
]
