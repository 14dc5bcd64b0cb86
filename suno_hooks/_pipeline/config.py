"""What a `Receiver` checks as it is built: which proof `require` asks for, the defaults, and the
keys it refuses. The settings table that the environment, Flask and Django read is `settings`."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import ConfigurationError, InsecureReceiverWarning
from .settings import (
    ENV_PREFIX,
    ENV_VARIABLES,
    REQUIRE_VALUES,
    check_environment,
    options_from_env,
)

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_BODY",
    "ENV_PREFIX",
    "ENV_VARIABLES",
    "Require",
    "check_environment",
    "checked_hmac_keys",
    "checked_secret_key",
    "options_from_env",
    "resolve_require",
]

logger = logging.getLogger("suno_hooks")

Require = Literal["signature", "token", "both", "either", "none"]
"""What a callback must carry: a signature, a token, both, either, or nothing (`"none"`)."""
DEFAULT_MAX_BODY = 1024 * 1024
"""The largest body accepted by default: 1 MiB; a larger one is answered 413."""
DEFAULT_LEASE = 60.0
"""How long a claim holds a delivery by default, in seconds, before another may take it over."""
_warned: set[str] = set()

_NO_VERIFICATION = (
    "A Receiver needs a way to verify callbacks: set hmac_keys (Kie's webhookHmacKey) or "
    "secret_key (signed callback URLs), or write require='none' to accept every callback "
    "unverified (for local testing only)."
)


def warn_once(key: str, message: str) -> None:
    """Log `message` as a WARNING the first time `key` is seen in this process."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def checked_hmac_keys(hmac_keys: Sequence[str | bytes | None] | str | bytes | None) -> list[Any]:
    """The HMAC keys as a list; an empty or None key is refused, never read as "no key"."""
    if hmac_keys is None:
        return []
    if isinstance(hmac_keys, (str, bytes)):
        hmac_keys = [hmac_keys]
    keys = list(hmac_keys)
    for key in keys:
        if key is None or not (key.strip() if isinstance(key, (str, bytes)) else key):
            raise ConfigurationError(
                f"hmac_keys holds an empty key ({key!r}); an empty or None key is refused, not "
                "taken as no key. Give Kie's webhookHmacKey, or leave hmac_keys out."
            )
    return keys


def checked_secret_key(secret_key: str | bytes | None) -> str | bytes | None:
    """The token secret; an empty one is refused, never read as "no secret"."""
    if secret_key is not None and not (
        secret_key.strip() if isinstance(secret_key, (str, bytes)) else secret_key
    ):
        raise ConfigurationError(
            "secret_key is empty; an empty secret is refused, not taken as no secret. "
            "Give a long random secret, or leave secret_key out."
        )
    return secret_key


def resolve_require(require: str | None, *, has_verifier: bool, has_signer: bool) -> Require:
    """The proof a callback must carry: `require` checked against the keys given, or, when
    unset, the strongest the keys allow. Fails closed: with neither key, only an explicit
    `require="none"` builds a receiver, and it warns with `InsecureReceiverWarning`."""
    if require is None:
        if has_verifier:
            return "signature"
        if has_signer:
            return "token"
        raise ConfigurationError(_NO_VERIFICATION)
    if require not in REQUIRE_VALUES:
        raise ConfigurationError(
            f"require must be one of {', '.join(REQUIRE_VALUES)}; got {require!r}."
        )
    if require in ("signature", "both") and not has_verifier:
        raise ConfigurationError(f"require={require!r} needs hmac_keys.")
    if require in ("token", "both") and not has_signer:
        raise ConfigurationError(f"require={require!r} needs secret_key.")
    if require == "either" and not (has_verifier and has_signer):
        raise ConfigurationError("require='either' needs both hmac_keys and secret_key.")
    if require == "none":
        warnings.warn(
            "This suno-hooks Receiver has require='none': every callback is accepted "
            "unverified, forged ones included. Set hmac_keys or secret_key beyond local testing.",
            InsecureReceiverWarning,
            stacklevel=3,
        )
    return require  # type: ignore[return-value]
