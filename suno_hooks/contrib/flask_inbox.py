"""The inbox page in Flask: `SunoHooks(app, inbox=True, inbox_auth=...)` or the config keys
`SUNO_HOOKS_INBOX` and `SUNO_HOOKS_INBOX_AUTH` serve it at `<prefix>/inbox/`;
`SUNO_HOOKS_INBOX_MEDIA` names the media archive's target, whose kept copies the page plays once
the originals expired.

`inbox_auth` is required: a function of no arguments returning True for users who may see it
(it reads `flask.request` or your login library), or HTTP Basic as `"user:password"`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, Response, request

from ..errors import ConfigurationError
from ..receiver import Receiver

__all__ = ["INBOX_CONFIG_KEYS", "mount_inbox"]

INBOX_CONFIG_KEYS = ("SUNO_HOOKS_INBOX", "SUNO_HOOKS_INBOX_AUTH", "SUNO_HOOKS_INBOX_MEDIA")
"""The config keys of the inbox page."""

InboxAuth = Callable[[], bool] | str | tuple[str, str]


def mount_inbox(
    blueprint: Blueprint,
    app: Flask,
    receiver: Receiver,
    *,
    enabled: bool | None,
    auth: InboxAuth | None,
) -> bool:
    """Add the inbox routes to the extension's blueprint when enabled (argument, else config);
    True when mounted."""
    config: Mapping[str, Any] = app.config
    if enabled is None:
        enabled = bool(config.get("SUNO_HOOKS_INBOX", False))
    if not enabled:
        return False
    auth = auth if auth is not None else config.get("SUNO_HOOKS_INBOX_AUTH")
    if auth is None:
        raise ConfigurationError(
            "The inbox page needs SUNO_HOOKS_INBOX_AUTH (or inbox_auth=): a function returning "
            "True for allowed users, or 'user:password' for HTTP Basic."
        )
    from ..inbox import InboxCore, basic_auth
    from ..inbox.request import MAX_FORM, PageRequest, page_request_from_environ
    from ..wsgi import read_wsgi_body

    check: Callable[[PageRequest], bool]
    if callable(auth):
        app_check = auth
        check = lambda _page: bool(app_check())  # noqa: E731
    else:
        check = basic_auth(auth)
    secret = config.get("SUNO_HOOKS_SECRET_KEY") or config.get("SECRET_KEY") or None
    core = InboxCore(receiver, secret_key=secret, media=config.get("SUNO_HOOKS_INBOX_MEDIA"))

    def inbox(rest: str = "") -> Response:
        base = request.path[: len(request.path) - len(rest)] if rest else request.path
        page = page_request_from_environ(
            request.environ,
            path="/" + rest,
            root=request.script_root + base.rstrip("/"),
            native=request,
        )
        if not check(page):
            answer = core.denied(check)
        else:
            if request.method == "POST":  # a form past MAX_FORM is not read: it is no replay form
                page = replace(page, body=read_wsgi_body(request.environ, MAX_FORM)[0])
            answer = core.handle(page)
        if answer.chunks is None:
            return Response(answer.body, status=answer.status, headers=answer.headers)
        headers = [*answer.headers, ("Content-Length", str(answer.length))]
        return Response(answer.chunks, status=answer.status, headers=headers)

    blueprint.add_url_rule("/inbox/", "inbox", inbox, methods=["GET", "HEAD", "POST"])
    blueprint.add_url_rule("/inbox/<path:rest>", "inbox_page", inbox, methods=["GET", "POST"])
    return True
