"""The PostgreSQL store's statements and the parameters and answers that go with them."""

from __future__ import annotations

import time
from typing import Any

from .._base import DeliveryQuery
from .._text import text
from ..base import Claim, ClaimResult, Delivery, DeliveryStatus, ReplayCheck, new_token

__all__ = [
    "BIND",
    "CLAIM",
    "COLUMNS",
    "COUNT_BY_STATUS",
    "EXTEND",
    "FINISH",
    "FINISH_SETTLING",
    "GET",
    "NOTE_RING",
    "PURGE",
    "QUEUE",
    "RECORD_KEPT",
    "REOPEN",
    "SWEEPABLE",
    "SWEEP_GUARD",
    "Rows",
    "afetch",
    "claim_params",
    "claimed",
    "fetch",
    "finish_params",
    "listing",
    "queue_params",
]

Rows = list[tuple[Any, ...]]

CLAIM = "SELECT result, attempts, token FROM suno_hooks_claim(" + ", ".join(["%s"] * 13) + ")"
"""Claims a delivery in one call of the `suno_hooks_claim` function: its answer, the attempt
number and the fencing token."""
QUEUE = "SELECT result, attempts, token FROM suno_hooks_queue(" + ", ".join(["%s"] * 12) + ")"
"""Queues a delivery in one call of the `suno_hooks_queue` function (`CLAIM`'s arguments but
the lease)."""
FINISH = """
UPDATE suno_hooks_deliveries SET status = %s, error = %s, lease_until = NULL,
    updated_at = clock_timestamp()
WHERE key = %s AND token = %s RETURNING 1
"""
"""Marks a delivery done or failed and ends its lease, only while the token still owns it."""
# FINISH and, when it changed the delivery, the task's settle: one
# statement. Parameters: FINISH's four, then settled_by, updated_at, task id.
FINISH_SETTLING = f"""
WITH finished AS ({FINISH.strip()}), settled AS (
    UPDATE suno_hooks_tasks SET state = 'settled', settled_by = %s, updated_at = %s
    WHERE task_id = %s AND state = 'pending' AND EXISTS (SELECT 1 FROM finished)
)
SELECT 1 FROM finished
"""
"""Finishes a delivery and settles its expected task in one statement."""
REOPEN = """
UPDATE suno_hooks_deliveries SET status = 'failed', error = %s, updated_at = clock_timestamp()
WHERE key = %s AND status = 'done' RETURNING 1
"""
"""Marks a done delivery failed with an error, so a replay asked for on purpose can claim it."""
EXTEND = """
UPDATE suno_hooks_deliveries SET lease_until = clock_timestamp() + make_interval(secs => %s)
WHERE key = %s AND token = %s AND status = 'processing' RETURNING 1
"""
"""Moves the end of a processing delivery's lease, only for the token that owns it."""
COLUMNS = """key, task_id, stage, body, meta, extract(epoch FROM received_at)::float8,
    extract(epoch FROM updated_at)::float8,
    CASE WHEN status = 'processing' AND lease_until <= clock_timestamp() THEN 'abandoned'
        ELSE status END,
    attempts, error, kept, rings"""
"""The columns a `Delivery` is read from; a processing delivery whose lease has expired is
reported as abandoned."""
RECORD_KEPT = """
UPDATE suno_hooks_deliveries d SET kept = (
    SELECT jsonb_agg(merged.value ORDER BY merged.value->>'name' COLLATE "C")::text
    FROM (
        SELECT DISTINCT ON (given.value->>'name') given.value
        FROM (
            SELECT value, 1 AS rank FROM jsonb_array_elements(%s::jsonb)
            UNION ALL
            SELECT value, 2 FROM jsonb_array_elements(COALESCE(d.kept, '[]')::jsonb)
        ) given
        ORDER BY given.value->>'name', given.rank
    ) merged
)
WHERE key = %s RETURNING 1
"""
"""Merges the given records (a JSON array) into a delivery's kept media, a record of the same
name replaced, ordered by name; one statement, so two merges never lose each other's files."""
GET = f"SELECT {COLUMNS} FROM suno_hooks_deliveries WHERE key = %s"
"""One delivery by its key."""
COUNT_BY_STATUS = """
SELECT CASE WHEN status = 'processing' AND lease_until <= clock_timestamp() THEN 'abandoned'
    ELSE status END AS shown, count(*)
FROM suno_hooks_deliveries GROUP BY shown
"""
"""How many deliveries each status has, abandoned ones apart from processing ones."""
STATUS_FILTERS = {
    "queued": "status = 'queued'",
    "processing": "status = 'processing' AND lease_until > clock_timestamp()",
    "abandoned": "status = 'processing' AND lease_until <= clock_timestamp()",
    "done": "status = 'done'",
    "failed": "status = 'failed'",
}
PURGE = """
WITH gone AS (
    DELETE FROM suno_hooks_deliveries WHERE received_at < to_timestamp(%s)
    AND NOT (status = 'processing' AND lease_until > clock_timestamp()) RETURNING 1
), guard AS (
    DELETE FROM suno_hooks_guard WHERE expires_at <= clock_timestamp()
), bindings AS (
    DELETE FROM suno_hooks_token_bindings WHERE expires_at <= clock_timestamp()
)
SELECT count(*) FROM gone
"""
"""Deletes the deliveries received before the cutoff (never a live lease) with the expired guard
entries and token bindings; every part runs though only the deliveries are counted."""
BIND = """
INSERT INTO suno_hooks_token_bindings AS b (token_id, task_id, expires_at)
VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s))
ON CONFLICT (token_id) DO UPDATE SET
    task_id = CASE WHEN b.expires_at <= clock_timestamp() THEN excluded.task_id ELSE b.task_id END,
    expires_at = CASE WHEN b.expires_at <= clock_timestamp()
        THEN excluded.expires_at ELSE b.expires_at END
RETURNING b.task_id
"""
"""Binds a token to its task; an unexpired binding keeps its task. Returns the bound task."""
SWEEPABLE = f"""
WITH moment AS (SELECT clock_timestamp() - make_interval(secs => %s) AS cutoff)
SELECT {COLUMNS} FROM suno_hooks_deliveries, moment
WHERE rung_at IS NOT NULL AND status IN ('queued', 'processing') AND rung_at <= cutoff
AND rings < %s AND (status = 'queued' OR lease_until <= cutoff)
ORDER BY received_at, id LIMIT %s
"""
"""The deliveries of the hand-off to ring again (parameters: seconds, most rings, limit):
queued, or processing with a lease ended, and last rung that many seconds ago."""
NOTE_RING = """
UPDATE suno_hooks_deliveries SET rings = rings + 1, rung_at = clock_timestamp()
WHERE key = %s RETURNING rings
"""
"""Counts one more ring of a delivery and when it was rung; returns the new count."""
SWEEP_GUARD = "DELETE FROM suno_hooks_guard WHERE expires_at <= clock_timestamp()"
"""Deletes the expired replay-guard entries."""
RESULTS = {result.value: result for result in ClaimResult}


def claim_params(delivery: Delivery, lease: float, replay: ReplayCheck | None) -> tuple[Any, ...]:
    """The arguments of `suno_hooks_claim` for a delivery."""
    return (
        text(delivery.key),
        text(delivery.task_id),
        text(delivery.stage),
        delivery.terminal,
        text(delivery.kind),
        float(lease),
        float(delivery.received_at),
        text(delivery.meta_json()),
        delivery.body,
        new_token(),
        text(replay.signature_key) if replay is not None else None,
        replay.body_digest if replay is not None else None,
        float(replay.ttl) if replay is not None else None,
    )


def queue_params(delivery: Delivery, replay: ReplayCheck | None) -> tuple[Any, ...]:
    """The arguments of `suno_hooks_queue` for a delivery: `claim_params` but the lease."""
    params = claim_params(delivery, 0.0, replay)
    return params[:5] + params[6:]


def claimed(
    delivery: Delivery, rows: Rows, status: DeliveryStatus = DeliveryStatus.PROCESSING
) -> Claim:
    """The claim that `suno_hooks_claim` (or `suno_hooks_queue`) answered; a new one marks
    `delivery` with `status`."""
    result, attempts, token = rows[0]
    if result != "new":
        return Claim(RESULTS[result])
    if status is DeliveryStatus.QUEUED:
        delivery.rings = 0
    delivery.status = status
    delivery.attempts = int(attempts)
    delivery.updated_at = time.time()
    return Claim(ClaimResult.NEW, int(attempts), token)


def fetch(cursor: Any) -> Rows:
    """The rows a statement's cursor holds (none for a statement that returns no rows)."""
    rows: Rows = cursor.fetchall() if cursor.description is not None else []
    return rows


async def afetch(cursor: Any) -> Rows:
    """`fetch` for an asyncio cursor."""
    rows: Rows = await cursor.fetchall() if cursor.description is not None else []
    return rows


def finish_params(key: str, token: str, error: str | None) -> tuple[Any, ...]:
    """The parameters of `FINISH`: done when `error` is None, else failed."""
    status = DeliveryStatus.DONE if error is None else DeliveryStatus.FAILED
    return (status.value, None if error is None else text(error), text(key), token)


def listing(query: DeliveryQuery) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters listing the deliveries `query` asks for, newest first."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.status is not None:
        clauses.append(STATUS_FILTERS[query.status.value])
    for column, value in (("kind", query.kind), ("task_id", query.task_id), ("stage", query.stage)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(text(value))
    if query.source is not None:
        clauses.append("COALESCE(meta::jsonb ->> 'source', 'callback') = %s")
        params.append(text(query.source))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    params.extend((query.limit, query.offset))
    sql = (
        f"SELECT {COLUMNS} FROM suno_hooks_deliveries {where} "
        "ORDER BY received_at DESC, id DESC LIMIT %s OFFSET %s"
    )
    return sql, tuple(params)
