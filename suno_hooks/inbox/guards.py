"""The page's guards: HTTP Basic authentication, the loopback-only rule of a page without auth,
and CSRF tokens for its one POST (replay)."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .._security.tokens import derive_key
from ..errors import ConfigurationError
from .request import PageRequest

if TYPE_CHECKING:
    from ..receiver import Receiver

__all__ = [
    "BasicAuth",
    "Check",
    "CsrfGuard",
    "LoopbackOnly",
    "SignedCsrf",
    "basic_auth",
    "csrf_key",
    "loopback_host",
]

Check = Callable[[PageRequest], "bool | Awaitable[bool]"]
"""An access check on a page request: True lets it in (may be async on ASGI)."""


class BasicAuth:
    """HTTP Basic authentication with one username and password (compared in constant time)."""

    realm = "suno-hooks inbox"

    def __init__(self, username: str, password: str) -> None:
        if not username or not password:
            raise ConfigurationError("The inbox's HTTP Basic auth needs a username and a password.")
        self._expected = f"{username}:{password}".encode()

    def __repr__(self) -> str:
        return "BasicAuth(***)"

    def __call__(self, request: PageRequest) -> bool:
        """True when the request carries these credentials."""
        scheme, _, encoded = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._expected)

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` header value asking the browser for credentials."""
        return f'Basic realm="{self.realm}", charset="UTF-8"'


def basic_auth(value: str | tuple[str, str] | BasicAuth) -> BasicAuth:
    """A `BasicAuth` from `"user:password"`, `(user, password)` or a ready one."""
    if isinstance(value, BasicAuth):
        return value
    if isinstance(value, str):
        username, sep, password = value.partition(":")
        if not sep:
            raise ConfigurationError("Inbox basic auth must look like 'user:password'.")
        return BasicAuth(username, password)
    username, password = value
    return BasicAuth(username, password)


_LOOPBACK_HOST = re.compile(r"(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?", re.IGNORECASE)


def loopback_host(host: str | None) -> bool:
    """True when a `Host` header is `localhost`, `127.0.0.1` or `[::1]`, with or without a port.
    A site whose own name resolves to 127.0.0.1 (DNS rebinding) still sends its own name."""
    return bool(host) and _LOOPBACK_HOST.fullmatch(host or "") is not None


class LoopbackOnly:
    """The access check of a page mounted without auth: only requests addressed to a loopback
    name (`loopback_host`) get in, so no other site can read the page or post its form."""

    def __repr__(self) -> str:
        return "LoopbackOnly()"

    def __call__(self, request: PageRequest) -> bool:
        """True when the request's `Host` is `localhost`, `127.0.0.1` or `[::1]`."""
        return loopback_host(request.headers.get("host"))


class CsrfGuard(Protocol):
    """Issues the token the replay form carries and checks it when the form comes back."""

    field: str

    def issue(self, request: PageRequest) -> tuple[str, list[tuple[str, str]]]:
        """The token for a form on this page, and headers to send with it (a cookie)."""
        ...

    def verify(self, request: PageRequest) -> bool:
        """True when the POST carries a token this guard issued to this browser."""
        ...


class SignedCsrf:
    """Double-submit CSRF protection: a random value in a `SameSite=Strict` cookie, and the same
    value signed (itsdangerous, with a max age) in the form; a POST needs both to agree.

    Every process serving the page needs the same `secret_key` (see `csrf_key`); without one, a
    random key of this process signs, and another process refuses its forms.
    """

    field = "csrf_token"
    cookie = "suno_inbox_csrf"

    def __init__(self, secret_key: str | bytes | None = None, *, max_age: int = 12 * 3600) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret_key or secrets.token_bytes(32), salt="suno-hooks.inbox.csrf"
        )
        self.max_age = max_age

    def issue(self, request: PageRequest) -> tuple[str, list[tuple[str, str]]]:
        """Sign the browser's cookie value, setting a new cookie when it has none."""
        nonce = request.cookies.get(self.cookie, "")
        headers: list[tuple[str, str]] = []
        if not (20 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum()):
            nonce = secrets.token_urlsafe(24)
            secure = "; Secure" if request.secure else ""
            path = request.root or "/"
            headers.append(
                (
                    "Set-Cookie",
                    f"{self.cookie}={nonce}; Path={path}; HttpOnly; SameSite=Strict{secure}",
                )
            )
        return str(self._serializer.dumps(nonce)), headers

    def verify(self, request: PageRequest) -> bool:
        """True when the form's signed value is fresh and equals the cookie's."""
        cookie = request.cookies.get(self.cookie, "")
        token = request.form.get(self.field, "")
        if not cookie or not token:
            return False
        try:
            nonce = self._serializer.loads(token, max_age=self.max_age)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie)


CSRF_PURPOSE = "suno-hooks.inbox.csrf"
"""What the inbox's CSRF key is derived for, so it never equals another key made from the secret."""


def csrf_key(
    receiver: Receiver, secret_key: str | bytes | None = None, *, per_process: bool = False
) -> bytes:
    """The key signing the replay form, derived one-way from `secret_key`, else the receiver's
    secret_key, else its current HMAC key, so every worker of a deployment signs alike.

    With none of them, a random key of this process when `per_process` allows it (a page served by
    one process, or only on loopback without auth); otherwise `ConfigurationError`.
    """
    if secret_key:
        return derive_key(secret_key, CSRF_PURPOSE)
    if receiver.signer is not None:
        return receiver.signer.derive_key(CSRF_PURPOSE)
    if receiver.verifier is not None:
        return receiver.verifier.derive_key(CSRF_PURPOSE)
    if per_process:
        return secrets.token_bytes(32)
    raise ConfigurationError(
        "The inbox page signs its replay form with a key every worker must share, and this "
        "receiver has no secret to derive it from: give the Receiver secret_key= or hmac_keys=, "
        "or pass the page secret_key= (the same value in every worker)."
    )
