"""The store contract: leased claims, done/failed facts, terminal state, replay guard, inbox."""

from __future__ import annotations

import enum
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic_core import PydanticSerializationError, to_json

from ..media.kept import KeptFile

__all__ = [
    "AsyncQueues",
    "AsyncStore",
    "Claim",
    "ClaimResult",
    "Delivery",
    "DeliveryStatus",
    "KnowsDone",
    "Queues",
    "RecordsKept",
    "Reopens",
    "ReplayCheck",
    "Store",
    "delivery_source",
    "new_token",
]

DEFAULT_RETENTION = 14 * 24 * 3600.0
"""How long a delivery is kept, in seconds: 14 days, as long as Kie keeps the generated files."""
# The market API's unfinished states are progress stages like `text` and `first`.
PROGRESS_STAGES = ("text", "first", "waiting", "queuing", "generating")

# `json.dumps` with `separators` builds an encoder per call; this one is built once.
_META_ENCODER = json.JSONEncoder(separators=(",", ":"))


class DeliveryStatus(str, enum.Enum):
    """Where a delivery stands: queued for a worker, being processed, processed, failed and
    kept for replay, or abandoned: still `processing` after its lease ended (its worker died or
    hung), so it is replayed like a failed one. Stores keep `processing`; `get` and
    `deliveries` report it."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    ABANDONED = "abandoned"


REPLAYABLE = (DeliveryStatus.FAILED, DeliveryStatus.ABANDONED)
"""The statuses `replay` runs again: failed, and abandoned (its lease ended mid-work)."""


class ClaimResult(str, enum.Enum):
    """The answer of `Store.claim`: what the receiver should do with the delivery."""

    NEW = "new"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"
    STALE = "stale"
    REPLAYED = "replayed"


@dataclass(slots=True)
class Delivery:
    """One accepted callback as the inbox keeps it: raw body, signature headers, peer, outcome."""

    key: str
    task_id: str
    stage: str
    body: bytes
    kind: str = "unknown"
    feature: str | None = None
    context: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    peer: str | None = None
    received_at: float = field(default_factory=time.time)
    updated_at: float = 0.0
    status: DeliveryStatus = DeliveryStatus.PROCESSING
    attempts: int = 1
    error: str | None = None
    source: str = "callback"
    """How it reached the receiver: `callback`, `poll` (reconciler) or `replay`; kept in the
    stores' meta JSON."""
    kept: tuple[KeptFile, ...] = ()
    """The media files a `MediaArchive` kept for this delivery, ordered by name; recorded with
    `record_kept`, never changed by a claim, a finish or a replay."""
    rings: int = 0
    """How many times the sweeper rang the hand-off again for this delivery (`note_ring`)."""

    @property
    def terminal(self) -> bool:
        """True when this stage ends its task (anything but `text` and `first`)."""
        return self.stage not in PROGRESS_STAGES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (body decoded as UTF-8 text) for listings and the CLI."""
        return {
            "key": self.key,
            "task_id": self.task_id,
            "stage": self.stage,
            "kind": self.kind,
            "feature": self.feature,
            "context": self.context,
            "status": self.status.value,
            "attempts": self.attempts,
            "error": self.error,
            "source": self.source,
            "rings": self.rings,
            "peer": self.peer,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "headers": self.headers,
            "kept": [record.to_dict() for record in self.kept],
            "body": self.body.decode("utf-8", "replace"),
        }

    def meta_json(self) -> str:
        """The small fields that stores keep beside the body, as JSON."""
        meta = {
            "kind": self.kind,
            "feature": self.feature,
            "context": self.context,
            "headers": self.headers,
            "peer": self.peer,
            "source": self.source,
        }
        try:
            # A fifth of the standard encoder's cost; text it cannot write as UTF-8 (a lone
            # surrogate in a context value) goes through the standard encoder, escaped.
            return to_json(meta).decode()
        except PydanticSerializationError:
            return _META_ENCODER.encode(meta)


def delivery_source(delivery: Delivery) -> str:
    """How a delivery reached the receiver (`"callback"`, `"poll"`, `"replay"`); a delivery
    kept before sources were recorded counts as `"callback"`."""
    return delivery.source or "callback"


@dataclass(slots=True)
class ReplayCheck:
    """A signature seen on a delivery: one `(timestamp, signature)` never carries two bodies.
    A signature covers its task id, so a store may keep the guard per task."""

    signature_key: str
    body: bytes
    ttl: float

    @property
    def body_digest(self) -> str:
        """A short SHA-256 digest of the body: what the guard remembers of it."""
        return hashlib.sha256(self.body).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Claim:
    """What `claim` decided; for a NEW claim, the attempt number and the lease's fencing token.

    `token` is opaque and unique per successful NEW claim ("" otherwise): `finish` and `extend`
    take it, so an owner whose lease was taken over can no longer change the delivery.
    """

    result: ClaimResult
    attempts: int = 0
    token: str = ""


def new_token() -> str:
    """A fresh fencing token: random, so owners in other processes and hosts never collide."""
    return os.urandom(12).hex()


@runtime_checkable
class Store(Protocol):
    """The synchronous store contract shared by memory, SQLite, Redis and the Django ORM store.

    `claim` is one atomic step: replay guard, duplicate/lease check, stale check, then the
    delivery is recorded in the inbox as processing with a lease of `lease` seconds.
    """

    retention: float

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide what to do with `delivery` and, when NEW, record it as processing
        (attempts counted) with a lease; a terminal stage marks its task finished."""
        ...

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Record the outcome of a claimed delivery: done, or failed with `error` (for replay).

        A compare-and-set on the claim's `token`: False, and nothing changed, when the lease
        was taken over by another claim since (or the delivery is gone)."""
        ...

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Push the lease of a claimed delivery to `lease` seconds from now, for a handler that
        needs longer; False when `token` no longer owns the delivery."""
        ...

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        ...

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
        """Inbox entries, newest first, filtered by status, kind, task id, stage and source
        (a delivery without one counts as `"callback"`); `offset` skips that many matches."""
        ...

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (statuses with none are left out)."""
        ...

    def purge(self, older_than: float | None = None) -> int:
        """Forget deliveries received before `older_than` (default: now − retention); how many."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class KnowsDone(Protocol):
    """Optional for stores: answers a key already done without I/O, so the receiver can
    acknowledge a duplicate before assembling its inbox record. The replay guard runs first,
    as in `claim` (a signature already seen with a different body is refused as replayed before
    a duplicate is acknowledged), so the answer is the one `claim` would give."""

    def claim_done(self, key: str, replay: ReplayCheck | None) -> ClaimResult | None:
        """DUPLICATE when the key is done and the guard accepts `replay`, REPLAYED when the
        guard refuses it, None when the key is not done (then `claim` decides; never blocks)."""
        ...


@runtime_checkable
class Reopens(Protocol):
    """Optional for stores: turns a `done` delivery back into `failed`, so a replay asked for on
    purpose (`Receiver.replay(key, force=True)`) can claim it and run its handlers again."""

    def reopen(self, key: str, *, error: str) -> bool:
        """Mark the delivery `key` failed with `error` when it is done; False, and nothing
        changed, when it is not (processing, failed or gone)."""
        ...


@runtime_checkable
class RecordsKept(Protocol):
    """Optional for stores (every built-in store has it): records the media a `MediaArchive`
    kept for a delivery, so `Delivery.kept` lists them and a later keep sends no request."""

    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the `kept` of the delivery `key` (a file of the same name is
        replaced), leaving its status, lease and attempts as they are; False when the delivery
        is not kept (any more)."""
        ...

    async def arecord_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """`record_kept` without blocking the event loop."""


@runtime_checkable
class Queues(Protocol):
    """Optional for stores: records a delivery as `queued` for a worker in one write, and finds
    the queued or abandoned deliveries whose hand-off should be rung again."""

    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`claim`'s checks in the same order and one atomic write; where `claim` would answer
        NEW, the delivery is recorded `queued` (no lease, no attempt counted) and NEW answered;
        a key already queued answers IN_PROGRESS and nothing changes."""
        ...

    def sweepable(self, *, older_than: float, max_rings: int, limit: int = 100) -> list[Delivery]:
        """Deliveries that were queued and should be rung again, oldest received first: still
        `queued` and last rung (or queued) more than `older_than` seconds ago, or `processing`
        with a lease that ended that long ago; only those with `rings < max_rings`."""
        ...

    def note_ring(self, key: str) -> int:
        """Count one more ring for `key` and remember when; the new count (0 when the delivery
        is not kept)."""
        ...


@runtime_checkable
class AsyncQueues(Protocol):
    """The asyncio flavour of `Queues`."""

    async def aqueue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`Queues.queue` without blocking the event loop."""
        ...

    async def asweepable(
        self, *, older_than: float, max_rings: int, limit: int = 100
    ) -> list[Delivery]:
        """`Queues.sweepable` without blocking the event loop."""
        ...

    async def anote_ring(self, key: str) -> int:
        """`Queues.note_ring` without blocking the event loop."""
        ...


@runtime_checkable
class AsyncStore(Protocol):
    """The asyncio flavour of `Store`: the same operations, prefixed with `a`."""

    retention: float

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`Store.claim` without blocking the event loop."""
        ...

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`Store.finish` without blocking the event loop."""
        ...

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`Store.extend` without blocking the event loop."""
        ...

    async def aget(self, key: str) -> Delivery | None:
        """`Store.get` without blocking the event loop."""
        ...

    async def adeliveries(
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
        """`Store.deliveries` without blocking the event loop."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
