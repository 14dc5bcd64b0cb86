"""Signed callback URLs: a salted, expiring itsdangerous token carrying the caller's context."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from ..errors import InvalidToken

__all__ = [
    "DEFAULT_TOKEN_MAX_AGE",
    "TOKEN_PARAM",
    "TokenClaims",
    "TokenSigner",
    "add_query_param",
    "derive_key",
]

TOKEN_PARAM = "token"
"""The query parameter that carries a callback URL's token."""
DEFAULT_TOKEN_MAX_AGE = 7 * 24 * 3600
"""How long a callback URL's token stays valid by default: 7 days, in seconds."""
_SALT = "suno-hooks.callback-url"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token carried: the caller's context and the feature the task was for, the
    token's own id (its nonce) and how many seconds it stays valid."""

    context: dict[str, Any] | None
    feature: str | None
    token_id: str = ""
    expires_in: float = float(DEFAULT_TOKEN_MAX_AGE)


def derive_key(secret: str | bytes, purpose: str) -> bytes:
    """A 32-byte key for `purpose`, derived one-way from `secret` (HMAC-SHA256 of the purpose):
    another use can share a deployment's secret without holding it or accepting its signatures."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.digest(raw, b"suno-hooks derived key\x00" + purpose.encode("utf-8"), "sha256")


def add_query_param(url: str, name: str, value: str) -> str:
    """`url` with `name=value` added to its query string (other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


class TokenSigner:
    """Mints and reads the `token` query parameter of callback URLs."""

    def __init__(
        self,
        secret_key: str | bytes,
        *,
        max_age: int = DEFAULT_TOKEN_MAX_AGE,
        salt: str = _SALT,
    ) -> None:
        if not secret_key:
            raise ValueError("TokenSigner needs a non-empty secret key.")
        self.max_age = max_age
        self._secret = secret_key
        self._serializer = URLSafeTimedSerializer(secret_key, salt=salt)

    def derive_key(self, purpose: str) -> bytes:
        """A key for `purpose` derived one-way from this signer's secret (`derive_key`)."""
        return derive_key(self._secret, purpose)

    def mint(self, context: dict[str, Any] | None = None, feature: str | None = None) -> str:
        """A token carrying `context` (any JSON-able dict), `feature` and a random id, so two
        tokens minted alike are still two tokens (each is bound to its own task)."""
        payload: dict[str, Any] = {"n": secrets.token_urlsafe(12)}
        if context is not None:
            payload["c"] = context
        if feature is not None:
            payload["f"] = feature
        token = self._serializer.dumps(payload)
        return token if isinstance(token, str) else token.decode("ascii")

    def url(
        self, base: str, context: dict[str, Any] | None = None, feature: str | None = None
    ) -> str:
        """`base` with a `token` query parameter carrying `context` and `feature`."""
        return add_query_param(base, TOKEN_PARAM, self.mint(context, feature))

    def read(self, token: str) -> TokenClaims:
        """The claims of a valid token; raises `InvalidToken` when forged, malformed or expired."""
        try:
            payload, signed_at = self._serializer.loads(
                token, max_age=self.max_age, return_timestamp=True
            )
        except (BadData, ValueError, TypeError, OverflowError):
            raise InvalidToken() from None
        if not isinstance(payload, dict):
            raise InvalidToken()
        context = payload.get("c")
        feature = payload.get("f")
        nonce = payload.get("n")
        # A token minted before tokens carried an id is known by its digest.
        token_id = nonce if isinstance(nonce, str) and nonce else _digest(token)
        return TokenClaims(
            context=context if isinstance(context, dict) else None,
            feature=feature if isinstance(feature, str) else None,
            token_id=token_id[:64],
            expires_in=max(1.0, self.max_age - (time.time() - signed_at.timestamp())),
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
