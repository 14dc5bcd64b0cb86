"""System checks for `settings.SUNO_HOOKS`: shape, types, store URL, and verification.

Ids: `suno_hooks.E001` not a dict, `E002` unknown key, `E003` wrong type, `E004` bad store URL,
`E005` `REQUIRE` that cannot work, `E006` the ORM store's database is not configured, `E007`
that database has `AUTOCOMMIT` off (the inbox's writes would wait for a commit nobody makes, and
a receiver's error could roll them back), `E008` no way to verify callbacks and no explicit
`REQUIRE: "none"`, `E009` an empty HMAC key or secret, `E010` the store URL needs an extra that
is not installed, `E011` the receivers' transaction database (a `DjangoDispatcher`'s `using`) is
not configured, `W001` callbacks accepted unverified (`REQUIRE: "none"`), `W002` keys ignored
beside `RECEIVER`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning

from ..._pipeline.settings import REQUIRE_VALUES, SETTINGS, EmptyKey, Invalid, UnknownValue
from ...receiver import Receiver
from ...stores.redaction import redacted_url
from .conf import DEFAULT_STORE, RECEIVER_OPTIONS, SETTING, SETTING_KEYS, django_secret_key
from .dispatcher import DjangoDispatcher, is_configured
from .store import DjangoStore

__all__ = ["KNOWN_STORE_SCHEMES", "check_settings"]

KNOWN_STORE_SCHEMES = (
    "memory",
    "sqlite",
    "redis",
    "rediss",
    "unix",
    "redis+cluster",
    "rediss+cluster",
    "postgresql",
    "postgres",
    "django",
)
"""The URL schemes `SUNO_HOOKS["STORE"]` may use; the check names any other as an error."""
_EXTRAS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"), ("redis", "redis")
    ),
    **dict.fromkeys(("postgresql", "postgres"), ("psycopg", "postgres")),
}
"""For each store scheme that needs an optional package: the package and the extra installing it."""
_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "ASYNC": (lambda v: isinstance(v, bool), "True under ASGI, False under WSGI"),
    "RECEIVER": (lambda v: isinstance(v, Receiver), "a suno_hooks.Receiver"),
}
"""The keys that are not receiver settings, with their test and what they must be."""


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Validate `settings.SUNO_HOOKS`; every message carries a hint."""
    from django.conf import settings

    config = getattr(settings, SETTING, None)
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        return [
            Error(
                f"settings.{SETTING} must be a dict, not {type(config).__name__}.",
                hint=f'Write {SETTING} = {{"HMAC_KEYS": [...], "STORE": "django://"}}.',
                id="suno_hooks.E001",
            )
        ]
    messages = _check_keys(config)
    messages.extend(_check_types(config))
    if any(m.is_serious() for m in messages):
        return messages
    messages.extend(_check_store(config.get("STORE")))
    if not messages:
        messages.extend(_check_store_extra(config.get("STORE")))
    if not messages:
        messages.extend(_check_store_database(config, settings.DATABASES))
    messages.extend(_check_transaction_database(config, settings.DATABASES))
    messages.extend(_check_verification(config))
    return messages


def _store_alias(config: Mapping[str, Any]) -> str | None:
    """The database alias of the ORM store the settings configure; None for another store."""
    receiver = config.get("RECEIVER")
    store: Any = receiver.store if isinstance(receiver, Receiver) else config.get("STORE")
    if store is None:
        store = DEFAULT_STORE
    if isinstance(store, str):
        parts = urlsplit(store)
        if parts.scheme.lower() != "django":
            return None
        return parse_qs(parts.query).get("using", ["default"])[-1]
    return store.using if isinstance(store, DjangoStore) else None


def _check_store_database(
    config: Mapping[str, Any], databases: Mapping[str, Any]
) -> list[CheckMessage]:
    alias = _store_alias(config)
    if alias is None:
        return []
    database = databases.get(alias)
    if not isinstance(database, Mapping) or not is_configured(databases, alias):
        return [
            Error(
                f"The suno-hooks ORM store uses the database {alias!r}, which is not in DATABASES.",
                hint="Name a configured alias: 'django://?using=<alias>', or add it to DATABASES.",
                id="suno_hooks.E006",
            )
        ]
    if database.get("AUTOCOMMIT", True) is False:
        return [
            Error(
                f"DATABASES[{alias!r}] has AUTOCOMMIT off, so the suno-hooks inbox cannot commit "
                "its own writes and a receiver's error could roll them back.",
                hint="Keep AUTOCOMMIT on for the store's database, or point the store at another "
                "alias with 'django://?using=<alias>'.",
                id="suno_hooks.E007",
            )
        ]
    return []


def _check_transaction_database(
    config: Mapping[str, Any], databases: Mapping[str, Any]
) -> list[CheckMessage]:
    """A ready receiver's `DjangoDispatcher(using=...)` naming a database that is not in
    DATABASES: every delivery would fail before its receivers run (the store's own alias is
    E006's)."""
    receiver = config.get("RECEIVER")
    dispatcher = receiver.dispatcher if isinstance(receiver, Receiver) else None
    if not isinstance(dispatcher, DjangoDispatcher) or dispatcher.using is None:
        return []
    alias = dispatcher.using
    if is_configured(databases, alias) or alias == _store_alias(config):
        return []
    return [
        Error(
            f"The suno-hooks receivers' transaction uses the database {alias!r}, which is not in "
            "DATABASES.",
            hint="Name a configured alias in DjangoDispatcher(using=...), add it to DATABASES, "
            "or leave using out to run the receivers on the default database (or without a "
            "transaction when the project has no database).",
            id="suno_hooks.E011",
        )
    ]


def _check_keys(config: Mapping[str, Any]) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    for key in config:
        if key in SETTING_KEYS:
            continue
        close = difflib.get_close_matches(str(key), SETTING_KEYS, n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        found.append(
            Error(
                f"settings.{SETTING} has an unknown key {key!r}.",
                hint=hint + f"Known keys: {', '.join(SETTING_KEYS)}.",
                id="suno_hooks.E002",
            )
        )
    return found


def _check_types(config: Mapping[str, Any]) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    for key, expected in _wrong_types(config):
        found.append(
            Error(
                f"settings.{SETTING}[{key!r}] has the wrong type or value: "
                f"{type(config[key]).__name__}.",
                hint=f"{key} must be {expected}.",
                id="suno_hooks.E003",
            )
        )
    return found


def _wrong_types(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each key whose value the receiver would refuse, with what it must be; an empty key
    (E009), an unknown `REQUIRE` (E005) and a string `STORE` that is no URL (E004) have their
    own checks."""
    for setting in SETTINGS:
        if config.get(setting.name) is None:
            continue
        try:
            setting.parse(config[setting.name])
        except (EmptyKey, UnknownValue):
            pass
        except Invalid:
            yield setting.name, setting.help
    for key, (valid, expected) in _TYPES.items():
        if config.get(key) is not None and not valid(config[key]):
            yield key, expected


def _check_store(store: Any) -> list[CheckMessage]:
    if store is None or not isinstance(store, str):
        return []
    scheme = store.split("://", 1)[0].lower() if "://" in store else None
    if scheme in KNOWN_STORE_SCHEMES:
        return []
    return [
        Error(
            f"settings.{SETTING}['STORE'] is not a store URL: {redacted_url(store)!r}.",
            hint="Use 'django://' (the project's database), 'sqlite:///path.db', "
            "'redis://host:6379/0', 'postgresql://host/db' or 'memory://'.",
            id="suno_hooks.E004",
        )
    ]


def _check_store_extra(store: Any) -> list[CheckMessage]:
    """A store URL whose driver is not installed would answer the first callback with a 500."""
    if not isinstance(store, str):
        return []
    scheme = store.split("://", 1)[0].lower()
    if scheme not in _EXTRAS:
        return []
    package, extra = _EXTRAS[scheme]
    try:
        importlib.import_module(package)
    except ImportError:
        return [
            Error(
                f"settings.{SETTING}['STORE'] is a {scheme}:// URL, but the {package} package "
                "it needs is not installed.",
                hint=f'pip install "suno-hooks[{extra}]"',
                id="suno_hooks.E010",
            )
        ]
    return []


def _empty_key_problem(config: Mapping[str, Any]) -> str | None:
    for setting in SETTINGS:
        if config.get(setting.name) is None:
            continue
        try:
            setting.parse(config[setting.name])
        except EmptyKey:
            return setting.name
        except Invalid:
            pass
    return None


def _check_verification(config: Mapping[str, Any]) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    ready = config.get("RECEIVER")
    if ready is not None:
        ignored = sorted(k for k in config if k in RECEIVER_OPTIONS)
        if ignored:
            found.append(
                Warning(
                    f"settings.{SETTING} sets RECEIVER, so {', '.join(ignored)} are ignored.",
                    hint="Configure the Receiver you pass, or drop RECEIVER.",
                    id="suno_hooks.W002",
                )
            )
        require = ready.require
    else:
        empty = _empty_key_problem(config)
        if empty:
            found.append(
                Error(
                    f"settings.{SETTING}[{empty!r}] holds an empty key, which is refused rather "
                    "than taken as no key.",
                    hint=f"Give the key, or remove {empty} from {SETTING}.",
                    id="suno_hooks.E009",
                )
            )
            return found
        keys = config.get("HMAC_KEYS")
        has_keys = bool([keys] if isinstance(keys, (str, bytes)) else list(keys or []))
        secret = config["SECRET_KEY"] if "SECRET_KEY" in config else django_secret_key()
        require = config.get("REQUIRE")
        problem = _require_problem(require, has_keys, bool(secret))
        if problem:
            found.append(Error(problem[0], hint=problem[1], id="suno_hooks.E005"))
            return found
        if require is None and not (has_keys or secret):
            found.append(
                Error(
                    "Suno callbacks cannot be verified: no HMAC key and no token secret is set.",
                    hint=f"Set {SETTING}['HMAC_KEYS'] to Kie's webhookHmacKey (or a SECRET_KEY), "
                    f"or write {SETTING}['REQUIRE'] = 'none' to accept callbacks unverified.",
                    id="suno_hooks.E008",
                )
            )
            return found
        if require is None:
            require = "signature" if has_keys else "token"
    if require == "none":
        found.append(
            Warning(
                "Suno callbacks are accepted without any verification.",
                hint=f"Set {SETTING}['HMAC_KEYS'] to Kie's webhookHmacKey, or a SECRET_KEY "
                "and mint callback URLs with receiver.callback_url(...).",
                id="suno_hooks.W001",
            )
        )
    return found


def _require_problem(require: Any, has_keys: bool, has_secret: bool) -> tuple[str, str] | None:
    if require is None:
        return None
    if require not in REQUIRE_VALUES:
        return (
            f"settings.{SETTING}['REQUIRE'] is {require!r}.",
            f"REQUIRE must be one of {', '.join(REQUIRE_VALUES)}.",
        )
    if require in ("signature", "both", "either") and not has_keys:
        return (f"REQUIRE={require!r} needs HMAC keys.", "Set HMAC_KEYS or change REQUIRE.")
    if require in ("token", "both", "either") and not has_secret:
        return (f"REQUIRE={require!r} needs a token secret.", "Set SECRET_KEY or change REQUIRE.")
    return None
