"""`MemoryStore`: the in-process store for tests and single-process apps; bounded, thread-safe."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from ...media.kept import KeptFile
from .._base import DeliveryQuery, StoreBase
from .._kept import merge_kept
from ..base import (
    DEFAULT_RETENTION,
    PROGRESS_STAGES,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
)
from ._guard import SignatureGuard
from ._order import InsertionOrder
from ._tasks import MemoryTasks

__all__ = ["MemoryStore"]

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("suno_hooks")

_DONE = 0
_PROCESSING = 1
_QUEUED = 2
_DUPLICATE = Claim(ClaimResult.DUPLICATE)
_IN_PROGRESS = Claim(ClaimResult.IN_PROGRESS)
_STALE = Claim(ClaimResult.STALE)
_REPLAYED = Claim(ClaimResult.REPLAYED)
# How many live leases eviction steps over (each moved to the newest end) before it evicts one.
_SPARE_LIVE = 4

_Lease = tuple[float, str]


class MemoryStore(StoreBase):
    """Keeps dedupe facts, terminal tasks, the replay guard and a bounded inbox in this process.

    Each remembered key costs one small entry in a plain dict of numbers: `0` once done,
    `-attempts` when failed, `2` while queued, `1` while processing (its `(lease deadline,
    token)` is kept aside until it finishes), so the cyclic garbage collector never walks them.
    Leases run on `time.monotonic`, so a step of the wall clock neither expires nor prolongs
    them. Every
    structure is bounded and evicts its oldest entry first in O(1): keys (done, failed and
    leased alike; a live lease is passed over a few times before it goes) and terminal tasks
    past `max_keys`, inbox entries past `max_deliveries`, replay-guard entries past
    `max_signatures` (default: `max_keys`).
    """

    _tasks: MemoryTasks

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
        self._keys: dict[str, int] = {}
        self._key_order = InsertionOrder()
        self._leases: dict[str, _Lease] = {}
        self._terminal: dict[str, None] = {}
        self._terminal_order = InsertionOrder()
        self._guard = SignatureGuard(self.max_signatures)
        self._inbox: dict[str, Delivery] = {}
        self._inbox_order = InsertionOrder()
        self._rung_at: dict[str, float] = {}
        self._tokens = itertools.count(1)
        self._bindings: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._tasks = MemoryTasks()

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._keys)}, deliveries={len(self._inbox)})"

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide: new, duplicate, in progress, stale or replayed."""
        return self._take(delivery, lease, replay)

    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`claim`'s decision, recording a new delivery `queued` (no lease, no attempt counted);
        a key already queued is in progress."""
        return self._take(delivery, None, replay)

    def _take(self, delivery: Delivery, lease: float | None, replay: ReplayCheck | None) -> Claim:
        """Claim (`lease` seconds) or queue (`lease=None`) a delivery, under the lock."""
        now = time.time()
        clock = time.monotonic()
        key = delivery.key
        keys, inbox = self._keys, self._inbox
        with self._lock:
            if replay is not None and self._guard.seen_other_body(replay, clock):
                return _REPLAYED
            state = keys.get(key)
            attempts = 0
            if state is not None:
                if state == _DONE:
                    return _DUPLICATE
                if state == _QUEUED and lease is None:
                    return _IN_PROGRESS
                if state == _PROCESSING and self._leases[key][0] > clock:
                    return _IN_PROGRESS
                previous = inbox.get(key)
                attempts = previous.attempts if previous is not None else 1
                if previous is not None:
                    delivery.kept = previous.kept
            task_id = delivery.task_id
            if delivery.stage not in PROGRESS_STAGES:
                if task_id not in self._terminal:
                    self._terminal[task_id] = None
                    self._terminal_order.push(task_id)
                    if len(self._terminal) > self.max_keys:
                        del self._terminal[self._terminal_order.pop_oldest()]
            elif task_id in self._terminal:
                return _STALE
            if lease is None:
                token = ""
                keys[key] = _QUEUED
                self._leases.pop(key, None)
                self._rung_at[key] = clock
                delivery.status = DeliveryStatus.QUEUED
                delivery.rings = 0
            else:
                token = str(next(self._tokens))
                attempts += 1
                keys[key] = _PROCESSING
                self._leases[key] = (clock + lease, token)
                delivery.status = DeliveryStatus.PROCESSING
            if state is None:
                self._key_order.push(key)
            else:
                self._key_order.moved(key)
            delivery.attempts = attempts
            delivery.updated_at = now
            if key in inbox:
                self._inbox_order.moved(key)
            else:
                self._inbox_order.push(key)
            inbox[key] = delivery
            if len(keys) > self.max_keys:
                self._evict_key(clock)
            if len(inbox) > self.max_deliveries:
                self._forget_delivery(self._inbox_order.pop_oldest())
            return Claim(ClaimResult.NEW, attempts, token)

    def _forget_delivery(self, key: str) -> None:
        del self._inbox[key]
        self._rung_at.pop(key, None)

    def _sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        clock = time.monotonic()
        cutoff = clock - older_than
        found: list[Delivery] = []
        with self._lock:
            for key, rung in self._rung_at.items():
                delivery = self._inbox.get(key)
                if delivery is None or rung > cutoff or delivery.rings >= max_rings:
                    continue
                lease = self._leases.get(key)
                if delivery.status is DeliveryStatus.QUEUED or (
                    delivery.status is DeliveryStatus.PROCESSING
                    and lease is not None
                    and lease[0] <= cutoff
                ):
                    found.append(dataclasses.replace(self._reported(delivery, clock)))
        found.sort(key=lambda d: d.received_at)
        return found[:limit]

    def note_ring(self, key: str) -> int:
        """Count one more ring for `key` and remember when; the new count (0 when not kept)."""
        with self._lock:
            delivery = self._inbox.get(key)
            if delivery is None:
                return 0
            delivery.rings += 1
            self._rung_at[key] = time.monotonic()
            return delivery.rings

    def _evict_key(self, clock: float) -> None:
        keys, order, leases = self._keys, self._key_order, self._leases
        for _ in range(_SPARE_LIVE):
            key = order.pop_oldest()
            lease = leases.get(key)
            if lease is None or lease[0] <= clock:
                del keys[key]
                leases.pop(key, None)
                return
            order.push(key)
        self.evicted_live += 1
        key = order.pop_oldest()
        del keys[key]
        del leases[key]
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
            lease = self._leases.get(key)
            if lease is None or lease[1] != token:
                return False
            del self._leases[key]
            delivery = self._inbox.get(key)
            attempts = delivery.attempts if delivery is not None else 1
            self._keys[key] = _DONE if error is None else -attempts
            if delivery is not None:
                delivery.status = DeliveryStatus.DONE if error is None else DeliveryStatus.FAILED
                delivery.error = error
                delivery.updated_at = time.time()
            return True

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish`, then the expected task's settle when `token` still owned the delivery."""
        finished = self.finish(key, token=token, error=error)
        if finished and task_id in self._tasks.rows:
            self.settle(task_id, by=by)
        return finished

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish_settling` for the async path (no I/O, so it never blocks the loop)."""
        return self.finish_settling(key, token=token, error=error, task_id=task_id, by=by)

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now while `token` owns the delivery."""
        with self._lock:
            held = self._leases.get(key)
            if held is None or held[1] != token:
                return False
            self._leases[key] = (time.monotonic() + lease, token)
            return True

    def reopen(self, key: str, *, error: str) -> bool:
        """Mark a done delivery failed with `error` (for a replay asked for on purpose)."""
        with self._lock:
            if self._keys.get(key) != _DONE:
                return False
            delivery = self._inbox.get(key)
            self._keys[key] = -(delivery.attempts if delivery is not None else 1)
            if delivery is not None:
                delivery.status = DeliveryStatus.FAILED
                delivery.error = error
                delivery.updated_at = time.time()
            return True

    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the delivery's `kept` by name; False when it is not kept."""
        with self._lock:
            delivery = self._inbox.get(key)
            if delivery is None:
                return False
            delivery.kept = merge_kept(delivery.kept, files)
            return True

    def claim_done(self, key: str, replay: ReplayCheck | None) -> ClaimResult | None:
        """`claim`'s answer for a key already done (the guard first); None when it is not done."""
        if self._keys.get(key) != _DONE:
            return None
        if replay is None:
            return ClaimResult.DUPLICATE
        with self._lock:
            if self._guard.seen_other_body(replay, time.monotonic()):
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

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept (`abandoned` once its lease ended)."""
        clock = time.monotonic()
        with self._lock:
            delivery = self._inbox.get(key)
            return None if delivery is None else self._reported(delivery, clock)

    def _deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        clock = time.monotonic()
        with self._lock:
            rows = [self._reported(delivery, clock) for delivery in self._inbox.values()]
        return query.page(sorted(rows, key=lambda d: d.received_at, reverse=True))

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (a lapsed lease counts as abandoned)."""
        clock = time.monotonic()
        with self._lock:
            return dict(
                Counter(self._reported(d, clock).status.value for d in self._inbox.values())
            )

    def _reported(self, delivery: Delivery, clock: float) -> Delivery:
        if delivery.status is DeliveryStatus.PROCESSING:
            lease = self._leases.get(delivery.key)
            if lease is not None and lease[0] <= clock:
                return dataclasses.replace(delivery, status=DeliveryStatus.ABANDONED)
        return delivery

    def sizes(self) -> dict[str, int]:
        """How many entries each structure holds, with the failed keys and live leases among
        the keys: for monitoring that the bounds hold."""
        clock = time.monotonic()
        with self._lock:
            states = list(self._keys.values())
            deadlines = [lease[0] for lease in self._leases.values()]
            sizes = {
                "keys": len(states),
                "terminal": len(self._terminal),
                "signatures": len(self._guard),
                "deliveries": len(self._inbox),
                "bindings": len(self._bindings),
            }
        sizes["failed"] = sum(1 for s in states if s < 0)
        sizes["leases"] = sum(1 for deadline in deadlines if deadline > clock)
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

    def _purge(self, cutoff: float) -> int:
        with self._lock:
            old = [key for key, d in self._inbox.items() if d.received_at < cutoff]
            for key in old:
                self._forget_delivery(key)
                self._inbox_order.forget(key)
                if self._keys.get(key) == _DONE:
                    del self._keys[key]
                    self._key_order.forget(key)
            return len(old)

    def close(self) -> None:
        """Nothing to release."""

    # Nothing here blocks: the asyncio twins call straight in, the hot path without a hop.

    async def _off_loop(self, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return operation(*args, **kwargs)

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim` for the async path (no I/O, so it never blocks the loop)."""
        return self._take(delivery, lease, replay)

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish` for the async path."""
        return self.finish(key, token=token, error=error)

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` for the async path."""
        return self.bind_token(token_id, task_id, ttl)
