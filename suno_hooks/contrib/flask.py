"""Flask: the `SunoHooks` extension mounts a `suno_hooks` blueprint serving `<prefix>/callback`.

Signals are sent with the Flask app as sender, so `task_completed.connect_via(app)` receives
only that app's callbacks. Configured from `app.config` (`SUNO_HOOKS_*`) or a ready `Receiver`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any
from weakref import WeakKeyDictionary

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    has_app_context,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import Rule

from .._pipeline.settings import ENV_PREFIX, SETTINGS, options_from_mapping
from ..errors import ConfigurationError
from ..outcome import Outcome
from ..receiver import Receiver
from ..wsgi import inbound_request_with_body, read_bounded
from .flask_inbox import INBOX_CONFIG_KEYS, InboxAuth, mount_inbox

__all__ = [
    "BLUEPRINT_NAME",
    "CONFIG_KEYS",
    "CONFIG_OPTIONS",
    "DEFAULT_URL_PREFIX",
    "AppRunner",
    "SunoHooks",
    "receiver_from_config",
    "unknown_config_keys",
]

BLUEPRINT_NAME = "suno_hooks"
"""The blueprint's name, so the endpoint is `suno_hooks.callback`."""
DEFAULT_URL_PREFIX = "/suno"
"""Where the blueprint is mounted unless `SUNO_HOOKS_URL_PREFIX` says otherwise."""
_ENDPOINT = f"{BLUEPRINT_NAME}.callback"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


CONFIG_OPTIONS: dict[str, str] = {ENV_PREFIX + s.name: s.keyword for s in SETTINGS}
"""Each config key that configures the receiver, with the `Receiver` keyword it becomes."""

CONFIG_KEYS: tuple[str, ...] = (*CONFIG_OPTIONS, "SUNO_HOOKS_URL_PREFIX", *INBOX_CONFIG_KEYS)
"""Every `SUNO_HOOKS_*` key the extension reads."""


def unknown_config_keys(config: Mapping[str, Any]) -> dict[str, str | None]:
    """Each `SUNO_HOOKS_*` key in `config` that the extension does not read, with the closest
    known key (or None)."""
    known = [key.removeprefix(ENV_PREFIX) for key in CONFIG_KEYS]
    unknown: dict[str, str | None] = {}
    for key in config:
        if isinstance(key, str) and key.startswith(ENV_PREFIX) and key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key.removeprefix(ENV_PREFIX), known, n=1)
            unknown[key] = ENV_PREFIX + close[0] if close else None
    return unknown


def receiver_from_config(config: Mapping[str, Any]) -> Receiver:
    """A `Receiver` built from `SUNO_HOOKS_*` keys (strings read as text: comma-separated lists,
    numbers, true/false); the token secret defaults to `SECRET_KEY`."""
    options = options_from_mapping(config, prefix=ENV_PREFIX, label="app.config[{!r}]", text=True)
    if "secret_key" not in options:
        options["secret_key"] = config.get("SECRET_KEY") or None
    return Receiver(**options)


def _read_body(current: Request, max_body: int) -> tuple[bytes, bool]:
    """The request body, never reading past `max_body`; the flag says it was longer."""
    if current.method != "POST":
        return b"", False
    length = current.content_length
    if length is not None and length > max_body:
        return b"", True
    try:
        if length is not None:
            # werkzeug bounds the stream by Content-Length and caches what an earlier hook read.
            return current.get_data(cache=True), False
        return read_bounded(current.stream, max_body)
    except RequestEntityTooLarge:  # the app's own MAX_CONTENT_LENGTH is smaller
        return b"", True


def _callback_view(receiver: Receiver) -> Callable[[], Response]:
    def callback() -> Response:
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        body, too_large = _read_body(current, receiver.max_body)
        inbound = inbound_request_with_body(current.environ, body, too_large)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        outcome = receiver.handle(inbound, sender=app)
        return app.response_class(  # type: ignore[no-any-return]
            outcome.content,
            status=outcome.status,
            headers=outcome.headers,
            mimetype="application/json",
        )

    return callback


def _exempt_from_csrf(app: Flask) -> bool:
    """Exempt the blueprint from Flask-WTF's `CSRFProtect` when the app uses it."""
    csrf = app.extensions.get("csrf")
    if csrf is None or not hasattr(csrf, "exempt"):
        return False
    csrf.exempt(app.blueprints[BLUEPRINT_NAME])
    return True


class SunoHooks:
    """The Flask extension: `SunoHooks(app)` or `SunoHooks().init_app(app)` in an app factory.

    `receiver` is a ready `Receiver`; without one, each app builds its own from its config.
    `inbox=True` (or `SUNO_HOOKS_INBOX`) serves the inbox page at `<prefix>/inbox/`, behind
    `inbox_auth` (or `SUNO_HOOKS_INBOX_AUTH`): see `suno_hooks.contrib.flask_inbox`.
    """

    def __init__(
        self,
        app: Flask | None = None,
        receiver: Receiver | None = None,
        *,
        inbox: bool | None = None,
        inbox_auth: InboxAuth | None = None,
    ) -> None:
        self.app = app
        self._receiver = receiver
        self._inbox = (inbox, inbox_auth)
        self._receivers: WeakKeyDictionary[Flask, Receiver] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, receiver: Receiver | None = None) -> SunoHooks:
        """Register the blueprint at `SUNO_HOOKS_URL_PREFIX` (default `/suno`) on `app`; a
        `SUNO_HOOKS_*` key the extension does not read (a typo) is a `ConfigurationError`."""
        unknown = unknown_config_keys(app.config)
        if unknown:
            named = [
                f"{key} (did you mean {close}?)" if close else key for key, close in unknown.items()
            ]
            raise ConfigurationError(
                f"app.config has unknown suno-hooks key{'s' if len(named) > 1 else ''} "
                f"{', '.join(named)}; known keys: {', '.join(CONFIG_KEYS)}."
            )
        receiver = receiver or self._receiver or receiver_from_config(app.config)
        prefix = app.config.get("SUNO_HOOKS_URL_PREFIX", DEFAULT_URL_PREFIX).rstrip("/")
        blueprint = Blueprint(BLUEPRINT_NAME, __name__)
        view = _callback_view(receiver)
        for rule in ("/callback", "/callback/"):
            blueprint.add_url_rule(
                rule, "callback", view, methods=_METHODS, provide_automatic_options=False
            )
        mount_inbox(blueprint, app, receiver, enabled=self._inbox[0], auth=self._inbox[1])
        app.register_blueprint(blueprint, url_prefix=prefix)
        for rule in ("/callback", "/callback/"):
            # Any other method (TRACE, unknown ones) reaches the view too, for the JSON 405:
            # Flask's own 405 page would be HTML.
            app.url_map.add(Rule(prefix + rule, endpoint=f"{BLUEPRINT_NAME}.callback"))
        self._receivers[app] = receiver
        if receiver.handoff is not None:
            receiver.handoff.bind(AppRunner(app, receiver))
        app.extensions["suno_hooks"] = self
        if not _exempt_from_csrf(app):
            self._exempt_when_csrf_arrives(app)
        return self

    @staticmethod
    def _exempt_when_csrf_arrives(app: Flask) -> None:
        """`CSRFProtect` may be set up after this extension: exempt before its first check."""
        done: list[bool] = []

        def exempt() -> None:
            if not done:
                done.append(_exempt_from_csrf(current_app._get_current_object()))  # type: ignore[attr-defined]

        app.before_request_funcs.setdefault(None, []).insert(0, exempt)

    def receiver_for(self, app: Flask) -> Receiver:
        """The receiver serving `app`."""
        try:
            return self._receivers[app]
        except KeyError:
            raise RuntimeError("SunoHooks.init_app has not been called for this app.") from None

    @property
    def receiver(self) -> Receiver:
        """The receiver of the current app (or of the app given to the constructor)."""
        return self.receiver_for(self._app())

    def _app(self) -> Flask:
        if has_app_context():
            return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]
        if self.app is None:
            raise RuntimeError("Outside an app context, SunoHooks needs the app it was built with.")
        return self.app

    def callback_url(
        self, *, context: dict[str, Any] | None = None, feature: str | None = None
    ) -> str:
        """The external, signed `callBackUrl` of this app's endpoint (outside a request the app's
        `SERVER_NAME` gives the host)."""
        if has_app_context():
            base = url_for(_ENDPOINT, _external=True)
        else:
            with self._app().app_context():
                base = url_for(_ENDPOINT, _external=True)
        return self.receiver.callback_url(base, context=context, feature=feature)


class AppRunner:
    """What a hand-off's worker runs for a Flask app: the queued delivery's handlers inside the
    app's context, with the app as sender, as the callback view would have run them."""

    def __init__(self, app: Flask, receiver: Receiver) -> None:
        self.app = app
        self.receiver = receiver

    def __repr__(self) -> str:
        return f"AppRunner({self.app.name!r})"

    def run_queued(self, key: str) -> Outcome:
        """`Receiver.run_queued` inside the app's context, sent by the app."""
        with self.app.app_context():
            return self.receiver.run_queued(key, sender=self.app)

    async def arun_queued(self, key: str) -> Outcome:
        """`Receiver.arun_queued` inside the app's context, sent by the app."""
        with self.app.app_context():
            return await self.receiver.arun_queued(key, sender=self.app)
