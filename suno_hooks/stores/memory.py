"""`MemoryStore`: the in-process store for tests and single-process apps; bounded, thread-safe."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from .base import (
    DEFAULT_RETENTION,
    PROGRESS_STAGES,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
)
from .memory_tasks import MemoryTasks

__all__ = ["MemoryStore"]

logger = logging.getLogger("suno_hooks")

_DONE = 0
_DUPLICATE = Claim(ClaimResult.DUPLICATE)
_IN_PROGRESS = Claim(ClaimResult.IN_PROGRESS)
_STALE = Claim(ClaimResult.STALE)
_REPLAYED = Claim(ClaimResult.REPLAYED)
# How many live leases eviction steps over (each moved to the newest end) before it evicts one.
_SPARE_LIVE = 4

_Lease = tuple[float, str]


class MemoryStore(MemoryTasks):
    """Keeps dedupe facts, terminal tasks, the replay guard and a bounded inbox in this process.

    Each remembered key costs one small entry: `0` once done, `-attempts` when failed, or
    `(lease deadline, token)` while processing. Leases run on `time.monotonic`, so a step of the
    wall clock neither expires nor prolongs them. Every structure is bounded and evicts its
    oldest entry first in O(1): keys (done, failed and leased alike; a live lease is passed over
    a few times before it goes) and terminal tasks past `max_keys`, inbox entries past
    `max_deliveries`, replay-guard entries past `max_signatures` (default: `max_keys`).
    """

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        max_deliveries: int = 10_000,
        max_signatures: int | None = None,
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        self.max_keys = max_keys
        self.max_deliveries = max_deliveries
        self.max_signatures = max_keys if max_signatures is None else max_signatures
        self.retention = retention
        self.evicted_live = 0
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, int | _Lease] = OrderedDict()
        self._terminal: OrderedDict[str, None] = OrderedDict()
        self._guard: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._inbox: OrderedDict[str, Delivery] = OrderedDict()
        self._tokens = itertools.count(1)
        self._bindings: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._keys)}, deliveries={len(self._inbox)})"

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide: new, duplicate, in progress, stale or replayed."""
        now = time.time()
        clock = time.monotonic()
        key = delivery.key
        with self._lock:
            if replay is not None and self._seen_other_body(replay, clock):
                return _REPLAYED
            state = self._keys.get(key)
            attempts = 1
            if state is not None:
                if state == _DONE:
                    return _DUPLICATE
                if state.__class__ is tuple and state[0] > clock:
                    return _IN_PROGRESS
                previous = self._inbox.get(key)
                attempts = previous.attempts + 1 if previous is not None else 2
            if delivery.stage not in PROGRESS_STAGES:
                self._terminal[delivery.task_id] = None
                if len(self._terminal) > self.max_keys:
                    self._terminal.popitem(last=False)
            elif delivery.task_id in self._terminal:
                return _STALE
            token = str(next(self._tokens))
            self._keys[key] = (clock + lease, token)
            delivery.status = DeliveryStatus.PROCESSING
            delivery.attempts = attempts
            delivery.updated_at = now
            self._inbox[key] = delivery
            if state is not None:
                self._keys.move_to_end(key)
                self._inbox.move_to_end(key)
            if len(self._keys) > self.max_keys:
                self._evict_key(clock)
            if len(self._inbox) > self.max_deliveries:
                self._inbox.popitem(last=False)
            return Claim(ClaimResult.NEW, attempts, token)

    def _seen_other_body(self, replay: ReplayCheck, clock: float) -> bool:
        fingerprint = replay.body_digest
        guard = self._guard
        seen = guard.get(replay.signature_key)
        if seen is not None and seen[1] > clock:
            return seen[0] != fingerprint
        if seen is not None:
            del guard[replay.signature_key]
        guard[replay.signature_key] = (fingerprint, clock + replay.ttl)
        # Entries share one ttl, so the oldest expire first: drop a few expired ones per insert,
        # and the oldest live one only past the bound.
        for _ in range(2):
            oldest = next(iter(guard.values()))
            if oldest[1] > clock:
                break
            guard.popitem(last=False)
        if len(guard) > self.max_signatures:
            guard.popitem(last=False)
        return False

    def _evict_key(self, clock: float) -> None:
        keys = self._keys
        for _ in range(_SPARE_LIVE):
            key, state = keys.popitem(last=False)
            if state.__class__ is not tuple or state[0] <= clock:
                return
            keys[key] = state
        self.evicted_live += 1
        keys.popitem(last=False)
        if self.evicted_live == 1:
            logger.warning(
                "the memory store evicted a live lease (max_keys=%d is too small "
                "for the deliveries in progress); counted in evicted_live",
                self.max_keys,
            )

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False and
        nothing changed when `token` no longer owns the delivery."""
        with self._lock:
            state = self._keys.get(key)
            if state.__class__ is not tuple or state[1] != token:
                return False
            delivery = self._inbox.get(key)
            attempts = delivery.attempts if delivery is not None else 1
            self._keys[key] = _DONE if error is None else -attempts
            if delivery is not None:
                delivery.status = DeliveryStatus.DONE if error is None else DeliveryStatus.FAILED
                delivery.error = error
                delivery.updated_at = time.time()
            return True

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now while `token` owns the delivery."""
        with self._lock:
            state = self._keys.get(key)
            if state.__class__ is not tuple or state[1] != token:
                return False
            self._keys[key] = (time.monotonic() + lease, token)
            return True

    def claim_done(self, key: str, replay: ReplayCheck | None) -> ClaimResult | None:
        """`claim`'s answer for a key already done (the guard first); None when it is not done."""
        if self._keys.get(key) != _DONE:
            return None
        if replay is None:
            return ClaimResult.DUPLICATE
        with self._lock:
            if self._seen_other_body(replay, time.monotonic()):
                return ClaimResult.REPLAYED
            return ClaimResult.DUPLICATE if self._keys.get(key) == _DONE else None

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves; True when it is `task_id`.
        Past `max_keys` bindings the oldest are forgotten first."""
        now = time.monotonic()
        with self._lock:
            bound = self._bindings.get(token_id)
            if bound is not None and bound[1] > now:
                return bound[0] == task_id
            self._bindings.pop(token_id, None)
            self._bindings[token_id] = (task_id, now + ttl)
            if len(self._bindings) > self.max_keys:
                self._bindings.popitem(last=False)
            return True

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` for the async path."""
        return self.bind_token(token_id, task_id, ttl)

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept (`abandoned` once its lease ended)."""
        clock = time.monotonic()
        with self._lock:
            delivery = self._inbox.get(key)
            return None if delivery is None else self._reported(delivery, clock)

    def deliveries(
        self,
        *,
        status: DeliveryStatus | str | None = None,
        kind: str | None = None,
        task_id: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Inbox entries, newest first, filtered by status, kind and task id."""
        wanted = DeliveryStatus(status) if status is not None else None
        clock = time.monotonic()
        with self._lock:
            rows = [self._reported(delivery, clock) for delivery in self._inbox.values()]
        found: list[Delivery] = []
        for delivery in sorted(rows, key=lambda d: d.received_at, reverse=True):
            if wanted is not None and delivery.status != wanted:
                continue
            if kind is not None and delivery.kind != kind:
                continue
            if task_id is not None and delivery.task_id != task_id:
                continue
            found.append(delivery)
            if len(found) >= limit:
                break
        return found

    def _reported(self, delivery: Delivery, clock: float) -> Delivery:
        if delivery.status is DeliveryStatus.PROCESSING:
            state = self._keys.get(delivery.key)
            if state.__class__ is tuple and state[0] <= clock:
                return dataclasses.replace(delivery, status=DeliveryStatus.ABANDONED)
        return delivery

    def sizes(self) -> dict[str, int]:
        """How many entries each structure holds, with the failed keys and live leases among
        the keys: for monitoring that the bounds hold."""
        clock = time.monotonic()
        with self._lock:
            states = list(self._keys.values())
            sizes = {
                "keys": len(states),
                "terminal": len(self._terminal),
                "signatures": len(self._guard),
                "deliveries": len(self._inbox),
                "bindings": len(self._bindings),
            }
        sizes["failed"] = sum(1 for s in states if s.__class__ is int and s < 0)
        sizes["leases"] = sum(1 for s in states if s.__class__ is tuple and s[0] > clock)
        sizes["evicted_live"] = self.evicted_live
        return sizes

    @property
    def bounded(self) -> bool:
        """True when every structure is within its bound (it always is after a claim)."""
        return (
            len(self._keys) <= self.max_keys
            and len(self._terminal) <= self.max_keys
            and len(self._guard) <= self.max_signatures
            and len(self._inbox) <= self.max_deliveries
            and len(self._bindings) <= self.max_keys
        )

    def purge(self, older_than: float | None = None) -> int:
        """Forget inbox entries received before `older_than` (default: now − retention)."""
        cutoff = older_than if older_than is not None else time.time() - self.retention
        with self._lock:
            old = [key for key, d in self._inbox.items() if d.received_at < cutoff]
            for key in old:
                del self._inbox[key]
                if self._keys.get(key) == _DONE:
                    del self._keys[key]
            return len(old)

    def close(self) -> None:
        """Nothing to release."""

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim` for the async path (no I/O, so it never blocks the loop)."""
        return self.claim(delivery, lease=lease, replay=replay)

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish` for the async path."""
        return self.finish(key, token=token, error=error)

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` for the async path."""
        return self.extend(key, token=token, lease=lease)

    async def aget(self, key: str) -> Delivery | None:
        """`get` for the async path."""
        return self.get(key)

    async def adeliveries(self, **filters: Any) -> list[Delivery]:
        """`deliveries` for the async path."""
        return self.deliveries(**filters)

    async def aclose(self) -> None:
        """Nothing to release."""
