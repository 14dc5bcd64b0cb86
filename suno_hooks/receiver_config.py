"""The receiver's settings: which proof `require` asks for, the defaults, and `from_env`'s
reading of the environment."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from .errors import ConfigurationError

__all__ = ["DEFAULT_LEASE", "DEFAULT_MAX_BODY", "Require", "options_from_env", "resolve_require"]

logger = logging.getLogger("suno_hooks")

Require = Literal["signature", "token", "both", "either", "none"]
_REQUIRE_VALUES: tuple[str, ...] = ("signature", "token", "both", "either", "none")
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_LEASE = 60.0
_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Log `message` as a WARNING the first time `key` is seen in this process."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def resolve_require(require: str | None, *, has_verifier: bool, has_signer: bool) -> Require:
    """The proof a callback must carry: `require` checked against the keys given, or, when
    unset, the strongest the keys allow."""
    if require is None:
        if has_verifier:
            return "signature"
        if has_signer:
            return "token"
        warn_once(
            "insecure",
            "neither HMAC keys nor a secret key is set; every callback is accepted "
            "unverified. Set hmac_keys (Kie's webhookHmacKey) or secret_key.",
        )
        return "none"
    if require not in _REQUIRE_VALUES:
        raise ConfigurationError(
            f"require must be one of {', '.join(_REQUIRE_VALUES)}; got {require!r}."
        )
    if require in ("signature", "both") and not has_verifier:
        raise ConfigurationError(f"require={require!r} needs hmac_keys.")
    if require in ("token", "both") and not has_signer:
        raise ConfigurationError(f"require={require!r} needs secret_key.")
    if require == "either" and not (has_verifier and has_signer):
        raise ConfigurationError("require='either' needs both hmac_keys and secret_key.")
    return require  # type: ignore[return-value]


def options_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The `Receiver` keywords set by `SUNO_HOOKS_HMAC_KEYS` (comma-separated),
    `SUNO_HOOKS_SECRET_KEY`, `SUNO_HOOKS_STORE`, `SUNO_HOOKS_REQUIRE` and `SUNO_HOOKS_TOLERANCE`."""
    options: dict[str, Any] = {}
    keys = [key.strip() for key in env.get("SUNO_HOOKS_HMAC_KEYS", "").split(",") if key.strip()]
    if keys:
        options["hmac_keys"] = keys
    for name, option in (
        ("SUNO_HOOKS_SECRET_KEY", "secret_key"),
        ("SUNO_HOOKS_STORE", "store"),
        ("SUNO_HOOKS_REQUIRE", "require"),
    ):
        if env.get(name):
            options[option] = env[name]
    if env.get("SUNO_HOOKS_TOLERANCE"):
        try:
            options["tolerance"] = float(env["SUNO_HOOKS_TOLERANCE"])
        except ValueError:
            raise ConfigurationError("SUNO_HOOKS_TOLERANCE must be a number of seconds.") from None
    return options
