"""Kie's webhook HMAC: `base64(HMAC-SHA256(key, task_id + "." + timestamp))`, with key rotation,
a timestamp window both ways (300 s by default) and constant-time comparison. Kie signs only the
task id and the timestamp, not the body (https://docs.kie.ai/common-api/webhook-verification)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from binascii import b2a_base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import InvalidSignature, MissingSignature, StaleTimestamp
from .tokens import derive_key

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "HmacVerifier",
    "SignedHeaders",
    "compute_signature",
]

SIGNATURE_HEADER = "x-webhook-signature"
"""Kie's signature header: Base64 of the HMAC-SHA256 digest."""
TIMESTAMP_HEADER = "x-webhook-timestamp"
"""Kie's timestamp header: Unix time in seconds when the callback was sent."""
DEFAULT_TOLERANCE = 300.0
"""How far the timestamp may be from now, either way, by default: 300 seconds."""
_SIGNATURE_LENGTH = 44  # base64 of a 32-byte digest, with padding


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def compute_signature(key: str | bytes, task_id: str, timestamp: int | str) -> str:
    """The `X-Webhook-Signature` value Kie sends for this task id and timestamp."""
    message = f"{task_id}.{timestamp}".encode()
    digest = hmac.digest(_key_bytes(key), message, "sha256")
    return base64.b64encode(digest).decode("ascii")


class _KeyedSha256:
    """HMAC-SHA256 under one key, its inner and outer hash states computed once (RFC 2104):
    each message then costs two copies of a hash state instead of a fresh key setup."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK_SIZE:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK_SIZE, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def digest(self, message: bytes) -> bytes:
        """`hmac.digest(key, message, "sha256")`."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_BLOCK_SIZE = 64
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


@dataclass(slots=True)
class SignedHeaders:
    """The two Kie signature headers of one request, as sent."""

    signature: str
    timestamp: str

    @property
    def replay_key(self) -> str:
        """The key under which the replay guard remembers this signature."""
        return f"{self.timestamp}:{self.signature}"


class HmacVerifier:
    """Checks Kie signature headers against one or more keys (the first one signs)."""

    def __init__(self, keys: Sequence[str | bytes], *, tolerance: float = DEFAULT_TOLERANCE):
        keys = [key for key in keys if key]
        if not keys:
            raise ValueError("HmacVerifier needs at least one non-empty key.")
        self._keys = [_key_bytes(key) for key in keys]
        self._keyed = [_KeyedSha256(key) for key in self._keys]
        self.tolerance = float(tolerance)

    def sign(self, task_id: str, timestamp: int | str) -> str:
        """Sign with the first (current) key, as Kie would."""
        return compute_signature(self._keys[0], task_id, timestamp)

    def derive_key(self, purpose: str) -> bytes:
        """A key for `purpose` derived one-way from the current (first) key (`derive_key`)."""
        return derive_key(self._keys[0], purpose)

    @staticmethod
    def read_headers(headers: Mapping[str, str]) -> SignedHeaders | None:
        """The signature headers of a request (names already lower-cased), or None if absent."""
        if isinstance(headers, dict):
            signature = dict.get(headers, SIGNATURE_HEADER)
            timestamp = dict.get(headers, TIMESTAMP_HEADER)
        else:
            signature = headers.get(SIGNATURE_HEADER)
            timestamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            return None
        return SignedHeaders(signature.strip(), timestamp.strip())

    def check_timestamp(self, signed: SignedHeaders, now: float | None = None) -> int:
        """The signed timestamp as seconds; raises `StaleTimestamp` outside the window."""
        text = signed.timestamp
        if not (text.isascii() and text.isdigit() and len(text) <= 12):
            raise InvalidSignature("X-Webhook-Timestamp is not a Unix time in seconds.")
        value = int(text)
        current = time.time() if now is None else now
        if abs(current - value) > self.tolerance:
            raise StaleTimestamp()
        return value

    def matches(self, task_id: str, signed: SignedHeaders) -> bool:
        """True when the signature is right for this task id under any key (constant time)."""
        given = signed.signature.encode("utf-8", "replace")
        if len(given) != _SIGNATURE_LENGTH:
            return False
        message = f"{task_id}.{signed.timestamp}".encode()
        found = False
        for keyed in self._keyed:
            digest = keyed.digest(message)
            found |= hmac.compare_digest(b2a_base64(digest, newline=False), given)
        return found

    def check(self, task_id: str, headers: Mapping[str, str]) -> SignedHeaders | None:
        """The request's signature headers once they verify for `task_id`; None when absent.

        Raises `StaleTimestamp` or `InvalidSignature`."""
        signed = self.read_headers(headers)
        if signed is not None:
            self.check_timestamp(signed)
            if not self.matches(task_id, signed):
                raise InvalidSignature()
        return signed

    def verify(
        self,
        task_ids: Iterable[str],
        headers: Mapping[str, str],
        now: float | None = None,
    ) -> tuple[str, SignedHeaders]:
        """Verify the request for one of `task_ids`; returns the id that matched and the headers.

        Raises `MissingSignature`, `StaleTimestamp` or `InvalidSignature`.
        """
        signed = self.read_headers(headers)
        if signed is None:
            raise MissingSignature()
        self.check_timestamp(signed, now)
        for task_id in task_ids:
            if self.matches(task_id, signed):
                return task_id, signed
        raise InvalidSignature()
