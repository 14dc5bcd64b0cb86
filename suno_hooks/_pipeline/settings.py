"""The receiver's settings table, read alike from the environment (`SUNO_HOOKS_<NAME>`), Flask's
`app.config` (`SUNO_HOOKS_<NAME>`) and Django's `settings.SUNO_HOOKS` (`"<NAME>"`).

Each row names a setting, the `Receiver` keyword it sets, the parser that checks its value and a
line of help. Text sources (the environment, and strings in Flask's config) may also spell lists
comma-separated, numbers and flags as text; Django's settings are Python values and take them as
such. A bad value is a `ConfigurationError` naming the setting; a secret is never echoed.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..stores.base import Store

__all__ = [
    "ENV_PREFIX",
    "ENV_VARIABLES",
    "REQUIRE_VALUES",
    "SETTINGS",
    "EmptyKey",
    "Invalid",
    "Setting",
    "UnknownValue",
    "check_environment",
    "options_from_env",
    "options_from_mapping",
]

ENV_PREFIX = "SUNO_HOOKS_"
"""The prefix of the environment variables (and Flask config keys) suno-hooks reads."""
REQUIRE_VALUES: tuple[str, ...] = ("signature", "token", "both", "either", "none")
"""The values `require` takes: a signature, a token, both, either, or nothing."""
_SHOWN = 60


class Invalid(ConfigurationError):
    """A value a setting's parser refuses; the reader turns it into a `ConfigurationError` that
    names the setting. `detail`, when given, says what is wrong in place of "must be <help>"."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail

    def problem(self) -> str | None:
        """The sentence that replaces "must be <help>", or None to use the help."""
        return self.detail


class EmptyKey(Invalid):
    """An empty key or secret: refused rather than read as no key."""

    def problem(self) -> str:
        """Why an empty key is refused."""
        return "is empty; an empty key or secret is refused, not taken as none"


class UnknownValue(Invalid):
    """A value of the right type that the setting still cannot take (a `require` it does not
    know, a store string that is no URL)."""


def _same(text: str) -> Any:
    return text


def _keys(value: Any) -> list[str | bytes]:
    listed = [value] if isinstance(value, (str, bytes)) else value
    if not isinstance(listed, (list, tuple)) or not all(
        isinstance(key, (str, bytes)) for key in listed
    ):
        raise Invalid()
    if any(not key.strip() for key in listed):
        raise EmptyKey()
    return list(listed)


def _items(text: str) -> list[str]:
    # Nothing but commas and spaces stays one empty item, so an empty key is refused.
    return [item.strip() for item in text.split(",") if item.strip()] or [""]


def _secret(value: Any) -> str | bytes:
    if not isinstance(value, (str, bytes)):
        raise Invalid()
    if not value.strip():
        raise EmptyKey()
    return value


def _store(value: Any) -> str | Store:
    if isinstance(value, str) and "://" not in value:
        raise UnknownValue()
    if isinstance(value, (str, Store)):
        return value
    raise Invalid()


def _handoff(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise Invalid()
        return value.strip()
    if isinstance(value, type) or not (callable(getattr(value, "ring", None))):
        raise Invalid()
    return value


def _require(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid()
    if value not in REQUIRE_VALUES:
        raise UnknownValue()
    return value


def _seconds(minimum: float, *, above: bool) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid()
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise Invalid()
        return float(value)

    return parse


def _read_as(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """Text read as `kind` (a number); text it cannot read is left for the parser to refuse."""

    def read(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            return text

    return read


def _whole(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise Invalid()
        return value

    return parse


def _networks(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise Invalid()
    for item in value:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise Invalid(f"holds {_shown(item)}, which is no address or network") from None
    return list(value)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise Invalid()


def _flag_text(text: str) -> Any:
    word = text.strip().lower()
    return True if word in _TRUE else False if word in _FALSE else text


@dataclass(frozen=True, slots=True)
class Setting:
    """One receiver setting: its `name` (`SUNO_HOOKS_<name>` in the environment and Flask, the
    key in Django's dict), the `Receiver` `keyword` it sets, its `parse`r and one line of `help`
    saying what it must be. `text` reads the setting's text form, which `as_text` describes;
    `secret` keeps the value out of errors.
    """

    name: str
    keyword: str
    parse: Callable[[Any], Any]
    help: str
    text: Callable[[str], Any] = _same
    as_text: str = ""
    secret: bool = False

    def read(self, value: Any, label: str, *, text: bool = False) -> Any:
        """`value` parsed for the keyword (read from its text form when `text` and it is a
        string); a bad one is a `ConfigurationError` that names `label`."""
        try:
            return self.parse(self.text(value) if text and isinstance(value, str) else value)
        except Invalid as exc:
            shown = type(value).__name__ if self.secret else _shown(value)
            spelled = f" ({self.as_text} as text)" if text and self.as_text else ""
            problem = exc.problem() or f"must be {self.help}{spelled}; got {shown}"
            raise ConfigurationError(f"{label} {problem}.") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "HMAC_KEYS",
        "hmac_keys",
        _keys,
        "a list of Kie's webhookHmacKey values, current first",
        _items,
        "comma-separated",
        secret=True,
    ),
    Setting(
        "SECRET_KEY",
        "secret_key",
        _secret,
        "the secret that signs callback URLs (a string)",
        secret=True,
    ),
    Setting("STORE", "store", _store, "a store URL such as 'sqlite:///suno.db'", secret=True),
    Setting("REQUIRE", "require", _require, f"one of {', '.join(REQUIRE_VALUES)}"),
    Setting(
        "TOLERANCE",
        "tolerance",
        _seconds(0, above=False),
        "a number of seconds (0 or more) a signed timestamp may be off",
        _read_as(float),
    ),
    Setting(
        "TOKEN_MAX_AGE",
        "token_max_age",
        _whole(1),
        "a whole number of seconds (1 or more) a callback URL's token stays valid",
        _read_as(int),
    ),
    Setting(
        "ALLOWED_IPS",
        "allowed_ips",
        _networks,
        "a list of addresses or networks such as '10.0.0.0/8'",
        _items,
        "comma-separated",
    ),
    Setting(
        "TRUSTED_PROXIES",
        "trusted_proxies",
        _whole(0),
        "the number of proxies in front of the app (a whole number, 0 or more)",
        _read_as(int),
    ),
    Setting(
        "MAX_BODY",
        "max_body",
        _whole(1),
        "the largest body accepted, in bytes (a whole number, 1 or more)",
        _read_as(int),
    ),
    Setting(
        "LEASE",
        "lease",
        _seconds(0, above=True),
        "a number of seconds (more than 0) a claim holds a delivery",
        _read_as(float),
    ),
    Setting(
        "RETRY_ON_ERROR",
        "retry_on_error",
        _flag,
        "True or False",
        _flag_text,
        "true/false, yes/no, on/off or 1/0",
    ),
    Setting(
        "HANDOFF",
        "handoff",
        _handoff,
        "a hand-off: 'thread', 'celery', 'rq', 'django', a dotted path or a hand-off object",
    ),
)
"""Every receiver setting with a plain-value form, in the order the docs list them."""

_ENV_ONLY = ("SUNO_HOOKS_INBOX_AUTH", "SUNO_HOOKS_RQ_URL", "SUNO_HOOKS_RECEIVER")
ENV_VARIABLES: tuple[str, ...] = (*(ENV_PREFIX + s.name for s in SETTINGS), *_ENV_ONLY)
"""Every `SUNO_HOOKS_*` environment variable suno-hooks reads (`from_env` and the CLI); any
other one is refused as a typo."""


def check_environment(env: Mapping[str, str]) -> None:
    """Refuse any `SUNO_HOOKS_*` variable suno-hooks does not read (a typo such as
    `SUNO_HOOKS_HMAC_KEY`), naming the closest known one."""
    unknown = sorted(name for name in env if name.startswith(ENV_PREFIX))
    unknown = [name for name in unknown if name not in ENV_VARIABLES]
    if not unknown:
        return
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, ENV_VARIABLES, n=1)
        problems.append(f"{name} (did you mean {close[0]}?)" if close else name)
    raise ConfigurationError(
        f"Unknown environment variable{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(problems)}: suno-hooks reads only {', '.join(ENV_VARIABLES)}."
    )


def options_from_mapping(
    config: Mapping[str, Any], *, prefix: str = "", label: str = "{}", text: bool = False
) -> dict[str, Any]:
    """The `Receiver` keywords set by the table's settings in `config` (keys `prefix + NAME`;
    a None value counts as unset); errors name each key as `label.format(key)`."""
    options: dict[str, Any] = {}
    for setting in SETTINGS:
        key = prefix + setting.name
        value = config.get(key)
        if value is not None:
            options[setting.keyword] = setting.read(value, label.format(key), text=text)
    return options


def options_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The `Receiver` keywords set by the `SUNO_HOOKS_*` variables, one for each setting of the
    table (lists comma-separated; an empty variable counts as unset); any other `SUNO_HOOKS_*`
    variable is refused."""
    check_environment(env)
    given = {name: value for name, value in env.items() if value}
    return options_from_mapping(given, prefix=ENV_PREFIX, text=True)
