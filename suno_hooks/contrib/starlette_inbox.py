"""Starlette / FastAPI: `inbox_routes(receiver, auth=...)` serves the inbox page wherever it is
mounted.

    app = Starlette(routes=[Mount("/inbox", routes=inbox_routes(receiver, auth=is_staff))])

`auth` is required: a function of the `Request` returning True (or an awaitable of it) for
users who may see the page, or HTTP Basic as `"user:password"`, `(user, password)` or a
`BasicAuth`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from ..receiver import Receiver

__all__ = ["inbox_routes"]

RequestCheck = Callable[[Request], "bool | Awaitable[bool]"]


def inbox_routes(
    receiver: Receiver,
    *,
    auth: RequestCheck | str | tuple[str, str] | Any,
    secret_key: str | bytes | None = None,
    media: Any = None,
) -> list[BaseRoute]:
    """The inbox page's routes (one mount of the page's ASGI app), behind `auth`; `media` (the
    archive's target) lets it play kept copies once the originals expired."""
    from ..inbox import BasicAuth, InboxASGIApp, basic_auth
    from ..inbox.request import PageRequest

    if auth is None:
        raise TypeError("inbox_routes needs auth=: a check of the request, or 'user:password'.")
    if isinstance(auth, (str, tuple, BasicAuth)):
        check: Any = basic_auth(auth)
    else:
        request_check = auth

        def check(page: PageRequest) -> bool | Awaitable[bool]:
            return request_check(Request(page.native))

    page = InboxASGIApp(receiver, auth=check, secret_key=secret_key, media=media)
    return [Mount("", app=page, name="inbox")]
