"""`settings.SUNO_HOOKS`: the keys the app understands and the `Receiver` built from them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from ..._pipeline.dispatch import BlinkerDispatcher
from ..._pipeline.settings import SETTINGS, options_from_mapping
from ...errors import ConfigurationError
from ...receiver import Receiver
from .dispatcher import DjangoDispatcher

__all__ = [
    "DEFAULT_STORE",
    "RECEIVER_OPTIONS",
    "SETTING",
    "SETTING_KEYS",
    "callback_url",
    "forget_receiver",
    "get_receiver",
    "hooks_settings",
    "receiver_from_settings",
    "uses_async_views",
]

SETTING = "SUNO_HOOKS"
"""The name of the Django setting that holds this app's configuration (a dict)."""
DEFAULT_STORE = "django://"
"""The store used when `SUNO_HOOKS` names none: the project's own database."""

RECEIVER_OPTIONS: dict[str, str] = {s.name: s.keyword for s in SETTINGS}
"""Each setting key that configures the receiver, with the `Receiver` keyword it becomes."""

SETTING_KEYS: tuple[str, ...] = (
    *RECEIVER_OPTIONS,
    "RECEIVER",
    "ASYNC",
    "API_KEY",
    "API_BASE_URL",
    "MEDIA",
)
"""Every key `SUNO_HOOKS` may hold."""

_lock = threading.Lock()
_receiver: Receiver | None = None


def hooks_settings() -> Mapping[str, Any]:
    """`settings.SUNO_HOOKS`, or an empty mapping when unset."""
    value = getattr(settings, SETTING, None)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"settings.{SETTING} must be a dict; got {type(value).__name__}.")
    return value


def django_secret_key() -> str | None:
    """The project's own SECRET_KEY: the token secret when `SUNO_HOOKS` sets none."""
    return getattr(settings, "SECRET_KEY", None) or None


def receiver_from_settings(config: Mapping[str, Any]) -> Receiver:
    """Build the app's `Receiver` from a `SUNO_HOOKS` mapping.

    Each receiver setting is parsed as the environment and Flask parse it (as Python values,
    without their text forms); a bad one is a `ConfigurationError` naming it. A ready `RECEIVER`
    is used as is, except that the default blinker dispatcher is replaced by the Django one
    (which still sends the blinker signals after the Django ones, in the same transaction on the
    store's database).
    """
    ready = config.get("RECEIVER")
    if ready is not None:
        plain = ready.dispatcher
        # Only a default one: a blinker dispatcher given its own hooks is kept as `also`.
        if type(plain) is BlinkerDispatcher and not plain.own_hooks:
            ready.dispatcher = DjangoDispatcher(using=getattr(ready.store, "using", None))
        return ready  # type: ignore[no-any-return]
    options = options_from_mapping(config, label=f"settings.{SETTING}[{{!r}}]")
    options.setdefault("store", DEFAULT_STORE)
    if "SECRET_KEY" not in config:  # a SECRET_KEY of None asks for no tokens
        options["secret_key"] = django_secret_key()
    dispatcher = DjangoDispatcher()
    receiver = Receiver(**options, dispatcher=dispatcher)
    dispatcher.using = getattr(receiver.store, "using", dispatcher.using)
    return receiver


def get_receiver() -> Receiver:
    """The project's receiver, built once from `settings.SUNO_HOOKS` (rebuilt when it changes)."""
    global _receiver
    receiver = _receiver
    if receiver is None:
        with _lock:
            if _receiver is None:
                _receiver = receiver_from_settings(hooks_settings())
            receiver = _receiver
    return receiver


def callback_url(
    request: HttpRequest,
    *,
    context: dict[str, Any] | None = None,
    feature: str | None = None,
) -> str:
    """The absolute, signed callback URL of `suno_hooks:callback` for this request's host:
    pass it as `callBackUrl`; `context` comes back as `event.context`."""
    base = request.build_absolute_uri(reverse("suno_hooks:callback"))
    return get_receiver().callback_url(base, context=context, feature=feature)


def forget_receiver(*, setting: str, **kwargs: Any) -> None:
    """`setting_changed` receiver: the next request builds the receiver from the new settings."""
    global _receiver
    if setting in (SETTING, "SECRET_KEY"):
        with _lock:
            _receiver = None


def uses_async_views() -> bool:
    """True when `SUNO_HOOKS["ASYNC"]` asks for the async view (serve it under ASGI)."""
    config = getattr(settings, SETTING, None)
    return isinstance(config, Mapping) and config.get("ASYNC") is True
