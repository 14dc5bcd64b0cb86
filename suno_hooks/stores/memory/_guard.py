"""`SignatureGuard`: the memory store's replay guard, a bounded map of signature to body."""

from __future__ import annotations

import hashlib

from ..base import ReplayCheck
from ._order import InsertionOrder

__all__ = ["SignatureGuard"]

_FINGERPRINT = (1 << 128) - 1


class SignatureGuard:
    """Remembers which body each signature carried until its entry expires, at most `limit`
    signatures (the oldest forgotten first); not thread-safe: the store's lock guards it.

    Each entry is one int, the deadline in ms above 128 bits of the body's SHA-256 (as strong
    here as the 32 hex characters other stores keep), so the dict holds no container."""

    __slots__ = ("_entries", "_order", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[str, int] = {}
        self._order = InsertionOrder()

    def __len__(self) -> int:
        return len(self._entries)

    def seen_other_body(self, replay: ReplayCheck, clock: float) -> bool:
        """True when the signature is remembered, unexpired, with another body; otherwise it
        is remembered with this one (`clock` is `time.monotonic()`)."""
        fingerprint = int.from_bytes(hashlib.sha256(replay.body).digest()[:16], "big")
        now = int(clock * 1000)
        entries, order = self._entries, self._order
        signature_key = replay.signature_key
        seen = entries.get(signature_key)
        if seen is not None and seen >> 128 > now:
            return seen & _FINGERPRINT != fingerprint
        entries[signature_key] = (now + int(replay.ttl * 1000) + 1) << 128 | fingerprint
        if seen is None:
            order.push(signature_key)
        else:
            order.moved(signature_key)
        # Entries share one ttl, so the oldest expire first: drop a few expired ones per insert,
        # and the oldest live one only past the bound.
        for _ in range(2):
            if entries[order.oldest()] >> 128 > now:
                break
            del entries[order.pop_oldest()]
        if len(entries) > self.limit:
            del entries[order.pop_oldest()]
        return False
