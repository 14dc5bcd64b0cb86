"""The PostgreSQL store's schema: tables, indexes and the claim function, applied in order.

A claim is one call of `suno_hooks_claim`, so it costs one round trip and runs in one
transaction: the replay guard row and the delivery row are locked (`ON CONFLICT`,
`FOR UPDATE`) while they are decided, and every time is read from the server's clock.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "TASKS_SCHEMA"]

# The start of the claim function and of the queue function: the variables and the replay guard;
# then, in the loop, the delivery's row locked and read, and `duplicate` for a done one.
_GUARD = r"""DECLARE
    v_now timestamptz := clock_timestamp();
    v_seen text;
    v_row record;
    v_attempts integer;
    v_kept boolean;
BEGIN
    IF p_signature_key IS NOT NULL THEN
        -- An unexpired entry keeps its digest; an expired one takes the new digest and deadline.
        INSERT INTO suno_hooks_guard AS g (signature_key, digest, expires_at)
        VALUES (p_signature_key, p_digest, v_now + make_interval(secs => p_guard_ttl))
        ON CONFLICT (signature_key) DO UPDATE SET
            digest = CASE WHEN g.expires_at <= v_now THEN excluded.digest ELSE g.digest END,
            expires_at = CASE WHEN g.expires_at <= v_now
                THEN excluded.expires_at ELSE g.expires_at END
        RETURNING g.digest INTO v_seen;
        IF v_seen <> p_digest THEN
            RETURN QUERY SELECT 'replayed'::text, 0, ''::text;
            RETURN;
        END IF;
    END IF;
    LOOP
"""
_ROW = r"""        SELECT d.status, d.lease_until, d.attempts, d.token INTO v_row
        FROM suno_hooks_deliveries d WHERE d.key = p_key FOR UPDATE;
        v_kept := FOUND;
        IF v_kept THEN
            IF v_row.status = 'done' THEN
                RETURN QUERY SELECT 'duplicate'::text, 0, ''::text;
                RETURN;
            END IF;
"""
# Progress after its task's terminal stage is `stale`.
_TASK_ENDED = "SELECT 1 FROM suno_hooks_deliveries t WHERE t.task_id = p_task_id AND t.terminal"
"""A row when the task has reached its terminal stage (its `complete` or `error` is kept)."""
_STALE = f"""        IF NOT p_terminal AND EXISTS (
            {_TASK_ENDED}
        ) THEN
            RETURN QUERY SELECT 'stale'::text, 0, ''::text;
            RETURN;
        END IF;
"""
_CLAIM_HEAD = r"""
CREATE OR REPLACE FUNCTION suno_hooks_claim(
    p_key text, p_task_id text, p_stage text, p_terminal boolean, p_kind text,
    p_lease double precision, p_received_at double precision, p_meta text, p_body bytea,
    p_token text, p_signature_key text, p_digest text, p_guard_ttl double precision
) RETURNS TABLE (result text, attempts integer, token text)
LANGUAGE plpgsql AS $fn$
"""


def _inserted(columns: str, values: str, answer: str, *, unless_ended: bool = False) -> str:
    """A new delivery's INSERT, answering `answer` when it wrote the row (no row had the key).
    `unless_ended` also leaves progress of a task that has ended unwritten: the start of the
    loop of the functions that insert before they look the key up, which otherwise go on to
    decide on the row there, or answer `stale`."""
    if unless_ended:
        source = f"SELECT\n{values}\n        WHERE p_terminal OR NOT EXISTS (\n"
        source += f"            {_TASK_ENDED}\n        )\n        ON CONFLICT"
    else:
        source = f"VALUES (\n{values}\n        ) ON CONFLICT"
    return f"""        INSERT INTO suno_hooks_deliveries AS d (
{columns}
        ) {source} (key) DO NOTHING;
        IF FOUND THEN
            RETURN QUERY SELECT {answer};
            RETURN;
        END IF;
"""


_CLAIMED = (
    """            key, task_id, stage, terminal, kind, status, lease_until, token, attempts, error,
            received_at, updated_at, meta, body""",
    """            p_key, p_task_id, p_stage, p_terminal, p_kind, 'processing',
            v_now + make_interval(secs => p_lease), p_token, 1, NULL,
            to_timestamp(p_received_at), v_now, p_meta, p_body""",
    "'new'::text, 1, p_token",
)
"""A new delivery claimed: its columns, their values and the claim function's answer."""
_CLAIM_REST = (
    r"""            IF v_row.status = 'processing' AND v_row.token = p_token THEN
                -- The same claim sent again (its answer was lost): it still holds the lease.
                RETURN QUERY SELECT 'new'::text, v_row.attempts, p_token;
                RETURN;
            END IF;
            IF v_row.status = 'processing' AND v_row.lease_until > v_now THEN
                RETURN QUERY SELECT 'in_progress'::text, 0, ''::text;
                RETURN;
            END IF;
        END IF;
"""
    + _STALE
    + r"""        IF v_kept THEN
            -- Take over a failed delivery, or one whose lease expired.
            UPDATE suno_hooks_deliveries d SET
                stage = p_stage, terminal = p_terminal, kind = p_kind, status = 'processing',
                lease_until = v_now + make_interval(secs => p_lease), token = p_token,
                attempts = d.attempts + 1, error = NULL,
                received_at = to_timestamp(p_received_at), updated_at = v_now,
                meta = p_meta, body = p_body
            WHERE d.key = p_key
            RETURNING d.attempts INTO v_attempts;
            RETURN QUERY SELECT 'new'::text, v_attempts, p_token;
            RETURN;
        END IF;
"""
    + _inserted(*_CLAIMED)
    + "        -- Another transaction inserted the key first and has committed:"
    + """ decide on its row.
    END LOOP;
END
$fn$
"""
)
_CLAIM_FUNCTION = _CLAIM_HEAD + _GUARD + _ROW + _CLAIM_REST
"""The claim function as schema version 1 created it: the row looked up first."""
_CLAIM_INSERTING_FIRST = (
    _CLAIM_HEAD + _GUARD + _inserted(*_CLAIMED, unless_ended=True) + _ROW + _CLAIM_REST
)
"""The claim function since schema version 5: a new delivery costs one statement after the
guard instead of two (the lookup that finds no row, then the INSERT)."""

# `suno_hooks_claim`'s decision, recording a new delivery `queued` (no lease, no attempt counted,
# its rings counted afresh, `rung_at` now) where the claim would take it; a queued key is in
# progress, unless it is the same call sent again (its token), which answers `new` again.
_QUEUE_HEAD = r"""
CREATE OR REPLACE FUNCTION suno_hooks_queue(
    p_key text, p_task_id text, p_stage text, p_terminal boolean, p_kind text,
    p_received_at double precision, p_meta text, p_body bytea,
    p_token text, p_signature_key text, p_digest text, p_guard_ttl double precision
) RETURNS TABLE (result text, attempts integer, token text)
LANGUAGE plpgsql AS $fn$
"""
_QUEUED = (
    """            key, task_id, stage, terminal, kind, status, lease_until, token, attempts, error,
            received_at, updated_at, meta, body, rings, rung_at""",
    """            p_key, p_task_id, p_stage, p_terminal, p_kind, 'queued', NULL, p_token, 0, NULL,
            to_timestamp(p_received_at), v_now, p_meta, p_body, 0, v_now""",
    "'new'::text, 0, ''::text",
)
"""A new delivery queued: its columns, their values and the queue function's answer."""
_QUEUE_REST = (
    r"""            IF v_row.status = 'queued' AND v_row.token = p_token THEN
                RETURN QUERY SELECT 'new'::text, v_row.attempts, ''::text;
                RETURN;
            END IF;
            IF v_row.status = 'queued'
                OR (v_row.status = 'processing' AND v_row.lease_until > v_now) THEN
                RETURN QUERY SELECT 'in_progress'::text, 0, ''::text;
                RETURN;
            END IF;
        END IF;
"""
    + _STALE
    + r"""        IF v_kept THEN
            UPDATE suno_hooks_deliveries d SET
                stage = p_stage, terminal = p_terminal, kind = p_kind, status = 'queued',
                lease_until = NULL, token = p_token, error = NULL,
                received_at = to_timestamp(p_received_at), updated_at = v_now,
                meta = p_meta, body = p_body, rings = 0, rung_at = v_now
            WHERE d.key = p_key
            RETURNING d.attempts INTO v_attempts;
            RETURN QUERY SELECT 'new'::text, v_attempts, ''::text;
            RETURN;
        END IF;
"""
    + _inserted(*_QUEUED)
    + r"""    END LOOP;
END
$fn$
"""
)
_QUEUE_FUNCTION = _QUEUE_HEAD + _GUARD + _ROW + _QUEUE_REST
"""The queue function as schema version 4 created it: the row looked up first."""
_QUEUE_INSERTING_FIRST = (
    _QUEUE_HEAD + _GUARD + _inserted(*_QUEUED, unless_ended=True) + _ROW + _QUEUE_REST
)
"""The queue function since schema version 6: a new delivery is queued with one statement
after the guard, as the claim function claims one since version 5."""

TASKS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS suno_hooks_tasks (
    task_id text PRIMARY KEY,
    feature text NOT NULL,
    context jsonb,
    submitted_at double precision NOT NULL,
    next_poll_at double precision NOT NULL,
    polls integer NOT NULL DEFAULT 0,
    state text NOT NULL,
    settled_by text,
    updated_at double precision NOT NULL
)""",
    """CREATE INDEX IF NOT EXISTS suno_hooks_tasks_due ON suno_hooks_tasks (next_poll_at)
    WHERE state = 'pending'""",
    "CREATE INDEX IF NOT EXISTS suno_hooks_tasks_submitted ON suno_hooks_tasks (submitted_at)",
)
"""The expected tasks: one row per submitted task whose result is awaited (pending, settled or
lost, with its next poll time). Stores before schema version 2 created them on first use."""
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE suno_hooks_deliveries (
            id bigserial PRIMARY KEY,
            key text NOT NULL UNIQUE,
            task_id text NOT NULL,
            stage text NOT NULL,
            terminal boolean NOT NULL,
            kind text NOT NULL,
            status text NOT NULL,
            lease_until timestamptz,
            token text,
            attempts integer NOT NULL,
            error text,
            received_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            meta text NOT NULL,
            body bytea NOT NULL
        )""",
        "CREATE INDEX suno_hooks_deliveries_terminal ON suno_hooks_deliveries (task_id) "
        "WHERE terminal",
        "CREATE INDEX suno_hooks_deliveries_task ON suno_hooks_deliveries (task_id)",
        "CREATE INDEX suno_hooks_deliveries_received ON suno_hooks_deliveries (received_at, id)",
        "CREATE INDEX suno_hooks_deliveries_status ON suno_hooks_deliveries "
        "(status, received_at, id) WHERE status <> 'done'",
        """CREATE TABLE suno_hooks_guard (
            signature_key text PRIMARY KEY,
            digest text NOT NULL,
            expires_at timestamptz NOT NULL
        )""",
        """CREATE TABLE suno_hooks_token_bindings (
            token_id text PRIMARY KEY,
            task_id text NOT NULL,
            expires_at timestamptz NOT NULL
        )""",
        _CLAIM_FUNCTION,
    ),
    # Created here, under the migration lock, so that no two processes race to create them.
    TASKS_SCHEMA,
    # The media kept for the delivery: a JSON array of records, merged by `record_kept`; the
    # claim function never writes it, so it outlives a failed try and its replay.
    ("ALTER TABLE suno_hooks_deliveries ADD COLUMN IF NOT EXISTS kept text",),
    # Deliveries queued for a worker: how many times the sweeper rang the hand-off again and
    # when it was last rung (or queued); a row never queued has no `rung_at`.
    (
        """ALTER TABLE suno_hooks_deliveries
            ADD COLUMN IF NOT EXISTS rings integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS rung_at timestamptz""",
        """CREATE INDEX IF NOT EXISTS suno_hooks_deliveries_handoff
            ON suno_hooks_deliveries (received_at, id)
            WHERE rung_at IS NOT NULL AND status IN ('queued', 'processing')""",
        _QUEUE_FUNCTION,
    ),
    # A new delivery's claim inserts its row first; the same answers, one statement fewer.
    (_CLAIM_INSERTING_FIRST,),
    # And so does its queueing for a hand-off.
    (_QUEUE_INSERTING_FIRST,),
)
"""Each entry migrates the schema from the version before it; append, never edit."""
SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version a database gets; an older one is migrated, a newer one refused."""
