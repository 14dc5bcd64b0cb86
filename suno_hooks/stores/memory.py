"""`MemoryStore`: the in-process store for tests and single-process apps; bounded, thread-safe."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from typing import Any

from .base import (
    DEFAULT_RETENTION,
    PROGRESS_STAGES,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    delivery_source,
)

__all__ = ["MemoryStore"]

_DONE = 0
_DUPLICATE = Claim(ClaimResult.DUPLICATE)
_IN_PROGRESS = Claim(ClaimResult.IN_PROGRESS)
_STALE = Claim(ClaimResult.STALE)
_REPLAYED = Claim(ClaimResult.REPLAYED)


class MemoryStore:
    """Keeps dedupe facts, terminal tasks, the replay guard and a bounded inbox in this process.

    Each remembered key costs one small dict entry: the value is `0` once done, `-attempts`
    when failed, or `(lease deadline, token)` while processing. Leases run on `time.monotonic`,
    so a step of the wall clock neither expires nor prolongs them. Past `max_keys` the oldest
    done keys are forgotten first; the inbox keeps the newest `max_deliveries` deliveries.
    """

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        max_deliveries: int = 10_000,
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        self.max_keys = max_keys
        self.max_deliveries = max_deliveries
        self.retention = retention
        self._lock = threading.Lock()
        self._keys: dict[str, int | tuple[float, str]] = {}
        self._tokens = itertools.count(1)
        self._terminal: dict[str, None] = {}
        self._guard: dict[str, tuple[str, float]] = {}
        self._inbox: dict[str, Delivery] = {}
        self._guard_checked = 512
        self._bindings: dict[str, tuple[str, float]] = {}

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
            elif delivery.task_id in self._terminal:
                return _STALE
            token = str(next(self._tokens))
            self._keys[key] = (clock + lease, token)
            delivery.status = DeliveryStatus.PROCESSING
            delivery.attempts = attempts
            delivery.updated_at = now
            if state is not None:
                self._inbox.pop(key, None)
            self._inbox[key] = delivery
            if len(self._inbox) > self.max_deliveries or len(self._keys) > self.max_keys:
                self._bound()
            return Claim(ClaimResult.NEW, attempts, token)

    def _seen_other_body(self, replay: ReplayCheck, now: float) -> bool:
        fingerprint = replay.body_digest
        seen = self._guard.get(replay.signature_key)
        if seen is not None and seen[1] > now:
            return seen[0] != fingerprint
        if seen is not None:
            del self._guard[replay.signature_key]
        self._guard[replay.signature_key] = (fingerprint, now + replay.ttl)
        if len(self._guard) > self._guard_checked * 2:
            self._expire_guard(now)
        return False

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
                for old in list(self._bindings)[: len(self._bindings) - self.max_keys * 9 // 10]:
                    del self._bindings[old]
            return True

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` for the async path."""
        return self.bind_token(token_id, task_id, ttl)

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        with self._lock:
            return self._inbox.get(key)

    def deliveries(
        self,
        *,
        status: DeliveryStatus | str | None = None,
        kind: str | None = None,
        task_id: str | None = None,
        limit: int = 100,
        stage: str | None = None,
        source: str | None = None,
        offset: int = 0,
    ) -> list[Delivery]:
        """Inbox entries, newest first, filtered by status, kind, task id, stage and source."""
        wanted = DeliveryStatus(status) if status is not None else None
        with self._lock:
            rows = list(self._inbox.values())
        found: list[Delivery] = []
        skipped = 0
        for delivery in sorted(rows, key=lambda d: d.received_at, reverse=True):
            if (
                (wanted is not None and delivery.status != wanted)
                or (kind is not None and delivery.kind != kind)
                or (task_id is not None and delivery.task_id != task_id)
                or (stage is not None and delivery.stage != stage)
                or (source is not None and delivery_source(delivery) != source)
            ):
                continue
            if skipped < offset:
                skipped += 1
                continue
            found.append(delivery)
            if len(found) >= limit:
                break
        return found

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status."""
        with self._lock:
            return dict(Counter(d.status.value for d in self._inbox.values()))

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

    def _expire_guard(self, now: float) -> None:
        # Called when the guard doubled since the last sweep, so sweeping stays amortised O(1).
        expired = [key for key, (_, until) in self._guard.items() if until <= now]
        for key in expired:
            del self._guard[key]
        self._guard_checked = max(512, len(self._guard))

    def _bound(self) -> None:
        # Evict a tenth at a time so a full store does not pay a scan on every claim.
        if len(self._terminal) > self.max_keys:
            for task_id in list(self._terminal)[: len(self._terminal) - self.max_keys * 9 // 10]:
                del self._terminal[task_id]
        if len(self._inbox) > self.max_deliveries:
            for key in list(self._inbox)[: len(self._inbox) - self.max_deliveries * 9 // 10]:
                del self._inbox[key]
        if len(self._keys) > self.max_keys:
            excess = len(self._keys) - self.max_keys * 9 // 10
            for key in [k for k, v in self._keys.items() if v == _DONE][:excess]:
                del self._keys[key]
