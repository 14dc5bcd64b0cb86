"""`ReceiverLookup`: the receivers a blinker signal calls for a sender, resolved once per sender
and again whenever a receiver is connected or disconnected.

Blinker's own `receivers_for` builds a set and a generator on every send; this keeps, per signal
and sender, the receivers' ids in blinker's order with whether each is a coroutine function, and
reads them back through the signal (so a receiver that was garbage-collected is skipped)."""

from __future__ import annotations

import inspect
import itertools
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from blinker import Signal

__all__ = ["ReceiverLookup", "is_async"]

_MAX_ENTRIES = 256

Found = list[tuple[Callable[..., Any], bool]]


def is_async(receiver: Callable[..., Any]) -> bool:
    """True for a coroutine function (or an object whose `__call__` is one)."""
    if inspect.iscoroutinefunction(receiver):
        return True
    if inspect.isfunction(receiver) or inspect.ismethod(receiver):
        return False
    return inspect.iscoroutinefunction(type(receiver).__call__)


class ReceiverLookup:
    """Which receivers each watched signal calls for a sender, with whether each is async."""

    def __init__(self, watched: Iterable[Signal]) -> None:
        self._changes = itertools.count(1)
        self._version = 0
        self._entries: dict[
            tuple[int, int], tuple[int, weakref.ref[Any], tuple[tuple[Hashable, bool], ...]]
        ] = {}
        for signal in watched:
            signal.receiver_connected.connect(self._changed, weak=False)
            signal.receiver_disconnected.connect(self._changed, weak=False)

    def _changed(self, *args: Any, **kwargs: Any) -> None:
        self._version = next(self._changes)

    def receivers(self, signal: Signal, sender: Any) -> Found:
        """`(receiver, is_async)` for each receiver `signal` calls for `sender`."""
        if not signal.receivers:
            return []
        key = (id(signal), id(sender))
        entry = self._entries.get(key)
        if entry is None or entry[0] != self._version or entry[1]() is not sender:
            version = self._version
            try:
                sender_ref = weakref.ref(sender)
            except TypeError:
                return [(r, is_async(r)) for r in signal.receivers_for(sender)]
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            entry = (version, sender_ref, _resolve(signal, sender))
            self._entries[key] = entry
        held_by_id = signal.receivers
        found: Found = []
        for receiver_id, asynchronous in entry[2]:
            held = held_by_id.get(receiver_id)
            if isinstance(held, weakref.ref):
                held = held()
            if held is not None:
                found.append((held, asynchronous))
        return found


def _resolve(signal: Signal, sender: Any) -> tuple[tuple[Hashable, bool], ...]:
    """The ids of the receivers blinker calls for `sender`, in its order, each with is_async."""
    live = list(signal.receivers_for(sender))
    by_id = []
    for receiver_id, held in list(signal.receivers.items()):
        target = held() if isinstance(held, weakref.ref) else held
        if target is not None:
            by_id.append((receiver_id, target))
    ordered = []
    for receiver in live:
        for receiver_id, target in by_id:
            if target is receiver or target == receiver:
                ordered.append((receiver_id, is_async(receiver)))
                break
    return tuple(ordered)
