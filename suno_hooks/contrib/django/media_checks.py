"""System checks for `SUNO_HOOKS["MEDIA"]`, the media archive's settings.

Ids: `suno_hooks.E101` not a dict or an unknown key, `E102` a value of the wrong type, `E103`
`STORAGE` is not an alias of `STORAGES`, `E104` a target that cannot work (unknown scheme, or an
extra that is not installed).
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error

from .conf import SETTING, hooks_settings

__all__ = ["MEDIA_KEYS", "check_media"]

MEDIA_KEYS = (
    "TARGET",
    "STORAGE",
    "PREFIX",
    "ALLOWED_HOSTS",
    "ALLOW_HTTP",
    "ALLOW_PRIVATE",
    "MAX_BYTES",
)
"""Every key `SUNO_HOOKS["MEDIA"]` may hold."""
_WHERE = f'settings.{SETTING}["MEDIA"]'


def _is_hosts(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(h, str) and h for h in value)


def _is_switch(value: Any) -> bool:
    return isinstance(value, bool) or _is_hosts(value)


_TYPES: dict[str, tuple[str, Any]] = {
    "TARGET": ("a string", lambda v: isinstance(v, str) and v.strip()),
    "STORAGE": ("a string", lambda v: isinstance(v, str) and v.strip()),
    "PREFIX": ("a string", lambda v: isinstance(v, str)),
    "ALLOWED_HOSTS": ("a list of host names", _is_hosts),
    "ALLOW_HTTP": ("True, False or a list of host names", _is_switch),
    "ALLOW_PRIVATE": ("True, False or a list of host names", _is_switch),
    "MAX_BYTES": ("a positive whole number", lambda v: type(v) is int and v > 0),
}  # fmt: skip


def _error(message: str, hint: str, number: int) -> Error:
    return Error(message, hint=hint, id=f"suno_hooks.E{number}")


def _target_errors(config: Mapping[str, Any]) -> list[CheckMessage]:
    from django.conf import settings

    target = config.get("TARGET", "django")
    needed = [("httpx", "media")]
    if target == "django":
        alias = config.get("STORAGE", "default")
        known = getattr(settings, "STORAGES", {}) or {}
        if alias not in known:
            return [
                _error(
                    f"{_WHERE}['STORAGE'] is {alias!r}, which settings.STORAGES does not define.",
                    f"Use one of {', '.join(sorted(known)) or 'default'}, or add it to STORAGES.",
                    103,
                )
            ]
    else:
        scheme = urlsplit(target).scheme.lower()
        if scheme in ("s3", "s3a", "gs", "az", "azure", "abfs", "abfss"):
            needed.append(("obstore", "obstore"))
        elif len(scheme) > 1 and scheme != "file":
            return [
                _error(
                    f"{_WHERE}['TARGET'] has the unknown scheme {scheme!r}.",
                    'Use "django", a directory, or an s3://, gs:// or az:// URL.',
                    104,
                )
            ]
    return [
        _error(
            f"{_WHERE} needs the {extra} extra ({module} is not installed).",
            f'pip install "suno-hooks[{extra}]"',
            104,
        )
        for module, extra in needed
        if importlib.util.find_spec(module) is None
    ]


def check_media(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Validate `SUNO_HOOKS["MEDIA"]` when it is set; every message carries a hint."""
    try:
        config = hooks_settings().get("MEDIA")
    except Exception:  # the main settings check reports a SUNO_HOOKS that is not a dict
        return []
    if config is None:
        return []
    if not isinstance(config, Mapping):
        hint = 'Write "MEDIA": {"TARGET": "django"} (or a directory, or an s3:// URL).'
        return [_error(f"{_WHERE} must be a dict, not {type(config).__name__}.", hint, 101)]
    messages: list[CheckMessage] = []
    for key in config:
        if key not in MEDIA_KEYS:
            close = difflib.get_close_matches(str(key), MEDIA_KEYS, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known: {', '.join(MEDIA_KEYS)}."
            messages.append(_error(f"{_WHERE} has the unknown key {key!r}.", hint, 101))
    for key, (wanted, fits) in _TYPES.items():
        if key in config and not fits(config[key]):
            messages.append(_error(f"{_WHERE}[{key!r}] must be {wanted}.", "Fix the value.", 102))
    if messages:
        return messages
    return _target_errors(config)
