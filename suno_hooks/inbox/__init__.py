"""The inbox page: every delivery, one delivery in full (players for its tracks, stems and
video), expected tasks, and replay for failed deliveries. Server-rendered (Jinja2, autoescaped),
no JavaScript, nothing fetched from the internet; needs `pip install 'suno-hooks[inbox]'`.

    app = inbox_asgi_app(receiver, auth=BasicAuth("ops", "secret"))   # or inbox_wsgi_app
"""

from __future__ import annotations

from .asgi import InboxASGIApp, inbox_asgi_app
from .core import InboxCore
from .guards import BasicAuth, CsrfGuard, SignedCsrf, basic_auth
from .request import PageRequest, PageResponse
from .wsgi import InboxWSGIApp, inbox_wsgi_app

__all__ = [
    "BasicAuth",
    "CsrfGuard",
    "InboxASGIApp",
    "InboxCore",
    "InboxWSGIApp",
    "PageRequest",
    "PageResponse",
    "SignedCsrf",
    "basic_auth",
    "inbox_asgi_app",
    "inbox_wsgi_app",
]
