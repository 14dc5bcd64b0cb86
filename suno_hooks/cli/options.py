"""Options and helpers shared by the CLI commands: settings from flags or the environment."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from .._pipeline.config import check_environment
from ..errors import EXTRAS, ConfigurationError, InsecureReceiverWarning, missing_extra
from ..receiver import Receiver

DEFAULT_STORE = "sqlite:///suno-hooks.db"
DEFAULT_INBOX = Path("suno-hooks.db")

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


def inbox_here(store: str) -> str:
    """`store`, unless it is the default inbox and this folder holds none: then one clear error
    (never a new, empty database made by looking)."""
    source = click.get_current_context().get_parameter_source("store")
    if source is ParameterSource.DEFAULT and store == DEFAULT_STORE and not DEFAULT_INBOX.exists():
        raise click.UsageError(
            f"no inbox here; pass --store URL (or set $SUNO_HOOKS_STORE): there is no "
            f"{DEFAULT_INBOX} in {Path.cwd()}."
        )
    return store


@contextlib.contextmanager
def needs(extra: str, hint: str = "") -> Iterator[None]:
    """Turn a missing module that the `extra` installs into one error naming the extra and its
    pip line (and `hint`, another way out), instead of a bare `ModuleNotFoundError`."""
    try:
        yield
    except ModuleNotFoundError as exc:
        module = (exc.name or "").partition(".")[0]
        if module not in EXTRAS[extra]:
            raise
        who = click.get_current_context().command_path
        raise click.ClickException(missing_extra(extra, module, who) + hint) from None


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
    """The keys given on the command line, else those in SUNO_HOOKS_HMAC_KEYS; an empty
    `--hmac-key ""` is refused, never read as no key."""
    if given:
        if not all(key.strip() for key in given):
            raise click.UsageError("--hmac-key is empty: give Kie's webhookHmacKey.")
        return list(given)
    env = os.environ.get("SUNO_HOOKS_HMAC_KEYS", "")
    return [key.strip() for key in env.split(",") if key.strip()]


def build_receiver(**options: Any) -> Receiver:
    """A receiver from the environment overridden by non-empty flags; config errors exit cleanly."""
    overrides = {name: value for name, value in options.items() if value not in (None, [], ())}
    try:
        return Receiver.from_env(**overrides)
    except (ConfigurationError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None


def offline_receiver(url: str, handoff: str | None = None) -> Receiver:
    """A receiver over the store at `url` for work that takes no HTTP request (listing the
    inbox, replaying, polling, sweeping with `handoff`): nothing arrives through it, so nothing
    is verified and `InsecureReceiverWarning` does not apply."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureReceiverWarning)
            return Receiver(store=url, require="none", handoff=handoff or None)
    except (ConfigurationError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None


def check_environment_or_exit() -> None:
    """Refuse an unknown `SUNO_HOOKS_*` variable (a typo such as SUNO_HOOKS_HMAC_KEY) before any
    command runs, naming the closest known one."""
    try:
        check_environment(os.environ)
    except ConfigurationError as exc:
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
