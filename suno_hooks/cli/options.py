"""Options and helpers shared by the CLI commands: settings from flags or the environment."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import ConfigurationError
from ..receiver import Receiver

DEFAULT_STORE = "sqlite:///suno-hooks.db"

F = TypeVar("F", bound=Callable[..., Any])


def store_option(command: F) -> F:
    """`--store URL`, defaulting to SUNO_HOOKS_STORE, then the local SQLite inbox."""
    return click.option(
        "--store",
        envvar="SUNO_HOOKS_STORE",
        default=DEFAULT_STORE,
        show_default=True,
        help="Store URL: sqlite:///path.db, redis://host:6379/0, memory://.",
    )(command)


def hmac_key_option(command: F) -> F:
    """`--hmac-key`, repeatable, defaulting to SUNO_HOOKS_HMAC_KEYS."""
    return click.option(
        "--hmac-key",
        "hmac_keys",
        multiple=True,
        help="Kie webhookHmacKey (repeat for rotation). Default: $SUNO_HOOKS_HMAC_KEYS.",
    )(command)


def secret_key_option(command: F) -> F:
    """`--secret-key`, defaulting to SUNO_HOOKS_SECRET_KEY."""
    return click.option(
        "--secret-key",
        envvar="SUNO_HOOKS_SECRET_KEY",
        help="Secret that signs callback URLs. Default: $SUNO_HOOKS_SECRET_KEY.",
    )(command)


def log_level_option(command: F) -> F:
    """`--log-level`, info by default."""
    return click.option(
        "--log-level",
        default="info",
        show_default=True,
        type=click.Choice(["debug", "info", "warning", "error"]),
    )(command)


def hmac_keys_or_env(given: tuple[str, ...]) -> list[str]:
    """The keys given on the command line, else those in SUNO_HOOKS_HMAC_KEYS."""
    if given:
        return [key for key in given if key]
    env = os.environ.get("SUNO_HOOKS_HMAC_KEYS", "")
    return [key.strip() for key in env.split(",") if key.strip()]


def build_receiver(**options: Any) -> Receiver:
    """A receiver from the environment overridden by non-empty flags; config errors exit cleanly."""
    overrides = {name: value for name, value in options.items() if value not in (None, [], ())}
    try:
        return Receiver.from_env(**overrides)
    except (ConfigurationError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None


def import_handlers(target: str | None) -> None:
    """Import the module that connects your signal receivers (e.g. `myapp.suno_handlers`)."""
    if not target:
        return
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(target)
    except ImportError as exc:
        raise click.UsageError(f"cannot import handlers module {target!r}: {exc}") from None
