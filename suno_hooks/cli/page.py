"""The inbox page in `suno-hooks serve`: served at `/` beside the callback path, on loopback
unless an auth setting protects it."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..asgi import ASGIApp
from ..errors import ConfigurationError
from ..receiver import Receiver
from .options import needs

F = TypeVar("F", bound=Callable[..., Any])


def inbox_options(command: F) -> F:
    """`--no-inbox` and `--inbox-auth USER:PASSWORD` (default $SUNO_HOOKS_INBOX_AUTH)."""
    command = click.option(
        "--inbox-auth",
        envvar="SUNO_HOOKS_INBOX_AUTH",
        metavar="USER:PASSWORD",
        help="HTTP Basic credentials for the inbox page; needed to serve it beyond loopback. "
        "Default: $SUNO_HOOKS_INBOX_AUTH.",
    )(command)
    return click.option(
        "--no-inbox", is_flag=True, help="Do not serve the inbox page at / (callbacks only)."
    )(command)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def with_inbox(
    callback_app: Callable[[ASGIApp], ASGIApp],
    receiver: Receiver,
    *,
    host: str,
    auth: str | None,
    fallback: ASGIApp,
) -> ASGIApp:
    """The callback app wrapped around the inbox page (which gets every other path); refuses a
    non-loopback host without `auth`, and without it the page answers only loopback names."""
    with needs("inbox", hint="\n(or pass --no-inbox to serve callbacks only)"):
        from ..inbox import InboxASGIApp, SignedCsrf, basic_auth, csrf_key

    if not auth and not is_loopback(host):
        raise click.UsageError(
            f"Refusing to serve the inbox page on {host} without --inbox-auth USER:PASSWORD "
            "(or pass --no-inbox)."
        )
    try:
        check = basic_auth(auth) if auth else None
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    # serve is one process: when the receiver has no secret, a key of its own signs every form.
    csrf = SignedCsrf(csrf_key(receiver, per_process=True))
    page = InboxASGIApp(receiver, auth=check, fallback=fallback, csrf=csrf)
    return callback_app(page)
