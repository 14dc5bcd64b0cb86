"""`InsertionOrder`: the oldest-first order of a plain dict's keys, for O(1) eviction.

A plain dict costs about half an `OrderedDict` per entry, and one holding only strings and
numbers is never tracked by the cyclic garbage collector; but popping its oldest key scans the
holes left by earlier pops. This keeps the order beside it in a deque (8 bytes a key).
"""

from __future__ import annotations

from collections import deque

__all__ = ["InsertionOrder"]


class InsertionOrder:
    """Keys in the order they were (re)inserted into a dict, oldest first.

    Push each new key; `moved` a key re-inserted as the newest; `forget` a key deleted from the
    dict other than through `pop_oldest`. Older positions of a moved or forgotten key are
    skipped, so `oldest` always names a key still in the dict."""

    __slots__ = ("_order", "_stale")

    def __init__(self) -> None:
        self._order: deque[str] = deque()
        self._stale: dict[str, int] = {}

    def push(self, key: str) -> None:
        """Record `key` as the newest (it was not in the dict)."""
        self._order.append(key)

    def moved(self, key: str) -> None:
        """Record `key`, already in the dict, as the newest."""
        self.forget(key)
        self._order.append(key)

    def forget(self, key: str) -> None:
        """`key`'s current position no longer names a key of the dict."""
        self._stale[key] = self._stale.get(key, 0) + 1

    def oldest(self) -> str:
        """The oldest key still in the dict (the dict must not be empty)."""
        order, stale = self._order, self._stale
        while True:
            key = order[0]
            count = stale.get(key)
            if count is None:
                return key
            order.popleft()
            if count == 1:
                del stale[key]
            else:
                stale[key] = count - 1

    def pop_oldest(self) -> str:
        """Remove and return the oldest key still in the dict; the caller deletes it there."""
        key = self.oldest()
        self._order.popleft()
        return key
