"""The SQLite store's statements.

A new claim is one statement (`FAST_CLAIM`), in its own transaction or in a batch's: it inserts
the row, with the signature that claimed it as the row's replay-guard entry, unless the task's
rows or the guard table say otherwise. Anything else (a duplicate, a takeover, a stale or
replayed request) is decided by the full claim in a `BEGIN IMMEDIATE` transaction, which keeps
the guard table.
"""

from __future__ import annotations

from typing import Any

from .._base import DeliveryQuery

__all__ = [
    "BIND",
    "CLAIM",
    "COLUMNS",
    "COLUMNS_BEFORE_KEPT",
    "COLUMNS_BEFORE_RINGS",
    "EXTEND",
    "FAST_CLAIM",
    "FAST_QUEUE",
    "FINISH",
    "GUARD",
    "KEEP_ROW_GUARD",
    "KEPT",
    "NOTE_RING",
    "PURGE_KEEPS_GUARDS",
    "QUEUE",
    "RECORD_KEPT",
    "REOPEN",
    "ROW_GUARD",
    "STATE",
    "STATUS_CLAUSES",
    "SWEEPABLE",
    "listing",
]

# ?1 key, ?2 task id, ?3 stage, ?4 terminal, ?5 kind, ?6 now, ?7 lease seconds, ?8 received_at,
# ?9 meta, ?10 body, ?11 fencing token, ?12 signature key, ?13 body digest, ?14 guard ttl.
# A claimed row is `processing`, leased, its first attempt; a queued row is `queued`, without a
# lease, token or attempt, and remembers when it was queued (`rung_at`) for the sweeper.
_INSERT = """
INSERT INTO suno_hooks_deliveries (
    key, task_id, stage, terminal, kind, status, lease_until, attempts, error, received_at,
    updated_at, meta, body, lease_token, signature_key, digest, guard_until, rung_at
)
SELECT ?1, ?2, ?3, ?4, ?5, {row}, ?8, ?6, ?9, ?10, {token}, ?12, ?13, ?6 + ?14, {rung}"""
_CLAIMED = _INSERT.format(row="'processing', ?6 + ?7, 1, NULL", token="?11", rung="NULL")
_QUEUED = _INSERT.format(row="'queued', NULL, 0, NULL", token="NULL", rung="?6")
_FAST = """
WHERE NOT EXISTS (
    SELECT 1 FROM suno_hooks_deliveries
    WHERE key > ?2 || ':' AND key < ?2 || ';' AND task_id = ?2
    AND ((terminal AND NOT ?4) OR (signature_key = ?12 AND digest != ?13 AND guard_until > ?6))
) AND NOT EXISTS (
    SELECT 1 FROM suno_hooks_guard WHERE signature_key = ?12 AND digest != ?13 AND expires_at > ?6
)
ON CONFLICT (key) DO NOTHING
"""
FAST_CLAIM = _CLAIMED + _FAST
"""Inserts a new delivery, leased; inserts nothing when the key exists, when a terminal row makes
this progress stale, or when the signature already carried another body."""
FAST_QUEUE = _QUEUED + _FAST
"""`FAST_CLAIM`, inserting the delivery `queued` instead."""

# ?1 task id, ?2 signature key, ?3 now: the digests the task's live rows keep for a signature.
ROW_GUARD = """
SELECT digest FROM suno_hooks_deliveries
WHERE key > ?1 || ':' AND key < ?1 || ';' AND task_id = ?1 AND signature_key = ?2
AND guard_until > ?3
"""
"""The digests the task's live rows keep for a signature."""

GUARD = """
INSERT INTO suno_hooks_guard (signature_key, digest, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (signature_key) DO UPDATE SET
    digest = CASE WHEN expires_at <= ?4 THEN excluded.digest ELSE digest END,
    expires_at = CASE WHEN expires_at <= ?4 THEN excluded.expires_at ELSE expires_at END
RETURNING digest
"""
"""Records a signature's body digest in the guard table; an unexpired entry keeps its digest, an
expired one takes the new digest and deadline."""

KEEP_ROW_GUARD = """
INSERT INTO suno_hooks_guard (signature_key, digest, expires_at)
SELECT signature_key, digest, guard_until FROM suno_hooks_deliveries
WHERE key = ?1 AND signature_key IS NOT NULL AND guard_until > ?2
ON CONFLICT (signature_key) DO UPDATE SET
    digest = excluded.digest, expires_at = excluded.expires_at
WHERE expires_at <= ?2
"""
"""Before a claim takes a row over, moves the live guard entry the row keeps to the guard table."""

# ?1 cutoff, ?2 now: before `purge` deletes rows, their live guard entries move to the table.
PURGE_KEEPS_GUARDS = """
INSERT INTO suno_hooks_guard (signature_key, digest, expires_at)
SELECT signature_key, digest, guard_until FROM suno_hooks_deliveries
WHERE received_at < ?1 AND NOT (status = 'processing' AND lease_until > ?2)
AND signature_key IS NOT NULL AND guard_until > ?2
ON CONFLICT (signature_key) DO NOTHING
"""
"""Before `purge` deletes rows, moves their live guard entries to the guard table."""

_TAKE_OVER = """
WHERE ?4 OR NOT EXISTS (
    SELECT 1 FROM suno_hooks_deliveries
    WHERE key > ?2 || ':' AND key < ?2 || ';' AND task_id = ?2 AND terminal
)
ON CONFLICT (key) DO UPDATE SET
    stage = excluded.stage, terminal = excluded.terminal, kind = excluded.kind,
    status = excluded.status, lease_until = excluded.lease_until, attempts = {attempts},
    error = NULL, received_at = excluded.received_at, updated_at = excluded.updated_at,
    meta = excluded.meta, body = excluded.body, lease_token = excluded.lease_token,
    signature_key = excluded.signature_key, digest = excluded.digest,
    guard_until = excluded.guard_until{queued}
WHERE status IN ({statuses}) OR (status = 'processing' AND lease_until <= ?6)
RETURNING attempts
"""
CLAIM = _CLAIMED + _TAKE_OVER.format(
    attempts="attempts + 1", queued="", statuses="'failed', 'queued'"
)
"""The full claim, parameters as `FAST_CLAIM`'s: inserts a new delivery, or takes over a queued,
failed or lease-expired one; progress after the task's terminal stage inserts nothing. A
returned row means the caller now holds the lease."""
QUEUE = _QUEUED + _TAKE_OVER.format(
    attempts="attempts", queued=", rings = 0, rung_at = excluded.rung_at", statuses="'failed'"
)
"""The full queue, parameters as `FAST_CLAIM`'s: `CLAIM`, recording the delivery `queued` (no
lease, no attempt counted, its rings counted afresh); a row returned means it was queued."""
SWEEPABLE = """
SELECT {columns} FROM suno_hooks_deliveries
WHERE rung_at IS NOT NULL AND status IN ('queued', 'processing') AND rung_at <= ?2
AND rings < ?3 AND (status = 'queued' OR lease_until <= ?2)
ORDER BY received_at, id LIMIT ?4
"""
"""The deliveries of the hand-off to ring again (`?1` now, `?2` the cutoff, `?3` the most
rings, `?4` the limit): queued, or processing with a lease ended, and last rung before the
cutoff; `{columns}` is `COLUMNS`."""
NOTE_RING = """
UPDATE suno_hooks_deliveries SET rings = rings + 1, rung_at = ?1 WHERE key = ?2 RETURNING rings
"""
"""Counts one more ring of a delivery and when it was rung; returns the new count."""

STATE = "SELECT status, lease_until FROM suno_hooks_deliveries WHERE key = ?"
"""A delivery's status and lease end, by key."""
FINISH = """
UPDATE suno_hooks_deliveries SET status = ?, error = ?, updated_at = ?, lease_until = NULL
WHERE key = ? AND lease_token = ?
"""
"""Marks a delivery done or failed and ends its lease, only while the token still owns it."""
REOPEN = """
UPDATE suno_hooks_deliveries SET status = 'failed', error = ?, updated_at = ?
WHERE key = ? AND status = 'done'
"""
"""Marks a done delivery failed with an error, so a replay asked for on purpose can claim it."""
EXTEND = """
UPDATE suno_hooks_deliveries SET lease_until = ?
WHERE key = ? AND lease_token = ? AND status = 'processing'
"""
"""Moves the end of a processing delivery's lease, only for the token that owns it."""
BIND = """
INSERT INTO suno_hooks_token_bindings (token_id, task_id, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (token_id) DO UPDATE SET
    task_id = CASE WHEN expires_at <= ?4 THEN excluded.task_id ELSE task_id END,
    expires_at = CASE WHEN expires_at <= ?4 THEN excluded.expires_at ELSE expires_at END
RETURNING task_id
"""
"""Binds a token to its task; a token keeps its task until the binding expires (with the token
itself). Returns the bound task."""
_READ = (
    "key, task_id, stage, body, meta, received_at, updated_at, "
    "CASE WHEN status = 'processing' AND lease_until <= ?1 THEN 'abandoned' ELSE status END, "
    "attempts, error"
)
COLUMNS = f"{_READ}, kept, rings"
"""The columns a `Delivery` is read from; `?1` is now: a processing row whose lease ended is
reported as abandoned."""
COLUMNS_BEFORE_KEPT = f"{_READ}, NULL, 0"
"""`COLUMNS` for a file opened read-only before its schema had the `kept` column."""
COLUMNS_BEFORE_RINGS = f"{_READ}, kept, 0"
"""`COLUMNS` for a file opened read-only before its schema had the `rings` column."""
KEPT = "SELECT kept FROM suno_hooks_deliveries WHERE key = ?"
"""The kept media of a delivery, by key."""
RECORD_KEPT = "UPDATE suno_hooks_deliveries SET kept = ? WHERE key = ?"
"""Replaces a delivery's kept media (read with `KEPT` in the same transaction)."""
STATUS_CLAUSES = {
    "processing": "status = 'processing' AND lease_until > ?1",
    "abandoned": "status = 'processing' AND lease_until <= ?1",
}
"""The `WHERE` clause of the statuses a row's status column alone does not tell."""


def listing(query: DeliveryQuery, columns: str, now: float) -> tuple[str, list[Any]]:
    """The `SELECT` of an inbox listing, newest first, and its parameters; `columns` is
    `COLUMNS` or the one the file's schema has."""
    clauses: list[str] = []
    params: list[Any] = [now]
    if query.status is not None:
        wanted = query.status.value
        clauses.append(STATUS_CLAUSES.get(wanted, f"status = ?{len(params) + 1}"))
        if wanted not in STATUS_CLAUSES:
            params.append(wanted)
    if query.kind is not None:
        clauses.append(f"kind = ?{len(params) + 1}")
        params.append(query.kind)
    if query.task_id is not None:
        n = len(params)
        clauses.append(f"key > ?{n + 1} AND key < ?{n + 2} AND task_id = ?{n + 3}")
        params.extend((f"{query.task_id}:", f"{query.task_id};", query.task_id))
    if query.stage is not None:
        clauses.append(f"stage = ?{len(params) + 1}")
        params.append(query.stage)
    if query.source is not None:
        clauses.append(f"COALESCE(json_extract(meta, '$.source'), 'callback') = ?{len(params) + 1}")
        params.append(query.source)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    params.extend((query.limit, query.offset))
    statement = (
        f"SELECT {columns} FROM suno_hooks_deliveries {where} "
        f"ORDER BY id DESC LIMIT ?{len(params) - 1} OFFSET ?{len(params)}"
    )
    return statement, params
