"""The SQLite store's claim and finish, as functions of a connection: the store runs them on a
pooled connection in the calling thread, or on the event loop's inline connection."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from ..base import Claim, ClaimResult, Delivery, DeliveryStatus, ReplayCheck
from ..tasks import TaskState
from ._statements import (
    CLAIM,
    COLUMNS,
    FAST_CLAIM,
    FAST_QUEUE,
    FINISH,
    GUARD,
    KEEP_ROW_GUARD,
    NOTE_RING,
    QUEUE,
    ROW_GUARD,
    STATE,
    SWEEPABLE,
)
from ._tasks import SETTLE

__all__ = [
    "claim_in_transaction",
    "claim_params",
    "fast_claim",
    "fast_claim_or_duplicate",
    "finish",
    "finish_and_settle",
    "finish_settling",
    "full_claim",
    "known_duplicate",
    "note_ring",
    "sweepable_rows",
]


def claim_params(
    delivery: Delivery, lease: float, replay: ReplayCheck | None, token: str
) -> tuple[Any, ...]:
    """The parameters of `FAST_CLAIM` and `CLAIM` (now is read here: index 5; token: 10)."""
    if not delivery.key.startswith(f"{delivery.task_id}:"):
        raise ValueError(f"SQLiteStore keys are 'task_id:stage'; got {delivery.key!r}.")
    signature_key = digest = None
    ttl = 0.0
    if replay is not None:
        signature_key, digest, ttl = replay.signature_key, replay.body_digest, replay.ttl
    return (
        delivery.key,
        delivery.task_id,
        delivery.stage,
        delivery.terminal,
        delivery.kind,
        time.time(),
        lease,
        delivery.received_at,
        delivery.meta_json(),
        delivery.body,
        token,
        signature_key,
        digest,
        ttl,
    )


def fast_claim(conn: sqlite3.Connection, params: tuple[Any, ...], queue: bool = False) -> bool:
    """Insert a new delivery (leased, or `queued` when `queue`) in one statement; False when
    the full claim must decide."""
    return conn.execute(FAST_QUEUE if queue else FAST_CLAIM, params).rowcount == 1


def known_duplicate(
    conn: sqlite3.Connection, replay: ReplayCheck | None, params: tuple[Any, ...]
) -> bool:
    """True when the key is done and the guard has nothing to record or refuse (no signature,
    or one the task's rows already keep with this body): `full_claim` would answer DUPLICATE
    without writing, and a done row never changes."""
    state = conn.execute(STATE, (params[0],)).fetchone()
    if state is None or state[0] != DeliveryStatus.DONE.value:
        return False
    if replay is None:
        return True
    kept = conn.execute(ROW_GUARD, (params[1], replay.signature_key, params[5])).fetchall()
    return bool(kept) and all(row[0] == params[12] for row in kept)


def fast_claim_or_duplicate(
    conn: sqlite3.Connection,
    replay: ReplayCheck | None,
    params: tuple[Any, ...],
    queue: bool = False,
) -> tuple[bool, bool]:
    """Whether `fast_claim` inserted the delivery, and when not, whether it is a known
    duplicate (answered without the write lock)."""
    inserted = fast_claim(conn, params, queue)
    return inserted, not inserted and known_duplicate(conn, replay, params)


def full_claim(
    conn: sqlite3.Connection,
    replay: ReplayCheck | None,
    params: tuple[Any, ...],
    queue: bool = False,
) -> Claim | tuple[int, float]:
    """The claim (or with `queue`, the queueing) `fast_claim` could not make, inside a
    `BEGIN IMMEDIATE` transaction: a refusal, or the attempt number and the clock of a new
    claim or takeover. A queued key is claimed, but not queued again (in progress)."""
    # Read under the write lock: claims in every process see the clock in commit order.
    now = time.time()
    params = (*params[:5], now, *params[6:])
    key, task_id, digest = params[0], params[1], params[12]
    if replay is not None:
        kept = conn.execute(ROW_GUARD, (task_id, replay.signature_key, now)).fetchall()
        if any(row[0] != digest for row in kept):
            return Claim(ClaimResult.REPLAYED)
        if not kept:
            guard = (replay.signature_key, digest, now + replay.ttl, now)
            if conn.execute(GUARD, guard).fetchone()[0] != digest:
                return Claim(ClaimResult.REPLAYED)
    state = conn.execute(STATE, (key,)).fetchone()
    if state is not None:
        if state[0] == DeliveryStatus.DONE.value:
            return Claim(ClaimResult.DUPLICATE)
        if state[0] == DeliveryStatus.PROCESSING.value and state[1] > now:
            return Claim(ClaimResult.IN_PROGRESS)
        if queue and state[0] == DeliveryStatus.QUEUED.value:
            return Claim(ClaimResult.IN_PROGRESS)
        conn.execute(KEEP_ROW_GUARD, (key, now))
    row = conn.execute(QUEUE if queue else CLAIM, params).fetchone()
    if row is None:
        return Claim(ClaimResult.STALE)
    return int(row[0]), now


def claim_in_transaction(
    conn: sqlite3.Connection, replay: ReplayCheck | None, params: tuple[Any, ...]
) -> Claim | tuple[int, float]:
    """The claim inside the caller's write transaction: `fast_claim`, else `full_claim`; a
    refusal, or the attempt number and the clock of the new claim or takeover."""
    now = time.time()
    params = (*params[:5], now, *params[6:])
    if fast_claim(conn, params):
        return 1, now
    return full_claim(conn, replay, params)


def finish(conn: sqlite3.Connection, key: str, token: str, error: str | None) -> bool:
    """Record done (`error=None`) or failed in one statement (its own transaction); False and
    nothing changed when `token` no longer owns the delivery."""
    return finish_and_settle(conn, key, token, error, None)


def finish_settling(
    conn: sqlite3.Connection, key: str, token: str, error: str | None, task_id: str, by: str
) -> bool:
    """`finish`, and the expected task's settle in the same transaction when it changed the
    delivery."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        changed = finish_and_settle(conn, key, token, error, (task_id, by))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return changed


def finish_and_settle(
    conn: sqlite3.Connection,
    key: str,
    token: str,
    error: str | None,
    settles: tuple[str, str] | None,
) -> bool:
    """Record done or failed while `token` owns the delivery and then, with `settles` (a task
    id and who settled it), settle that expected task; in the caller's transaction, if any."""
    status = DeliveryStatus.DONE if error is None else DeliveryStatus.FAILED
    now = time.time()
    changed = conn.execute(FINISH, (status.value, error, now, key, token)).rowcount == 1
    if changed and settles is not None:
        task_id, by = settles
        conn.execute(SETTLE, (TaskState.SETTLED.value, by, now, task_id))
    return changed


def sweepable_rows(
    conn: sqlite3.Connection, older_than: float, max_rings: int, limit: int
) -> list[tuple[Any, ...]]:
    """The rows of the deliveries to ring again (`COLUMNS`), oldest received first."""
    now = time.time()
    statement = SWEEPABLE.format(columns=COLUMNS)
    return conn.execute(statement, (now, now - older_than, max_rings, limit)).fetchall()


def note_ring(conn: sqlite3.Connection, key: str) -> int:
    """Count one more ring of `key` and remember when; the new count, 0 when not kept."""
    row = conn.execute(NOTE_RING, (time.time(), key)).fetchone()
    return int(row[0]) if row is not None else 0
