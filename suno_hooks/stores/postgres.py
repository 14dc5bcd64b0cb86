"""`PostgresStore` (`postgresql://`): the store for many processes and hosts on PostgreSQL,
without Django; psycopg 3, synchronous and asyncio."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import conninfo

from ..errors import ConfigurationError
from .base import (
    DEFAULT_RETENTION,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    new_token,
)
from .pgpool import IdleConnections, discard
from .postgres_schema import MIGRATIONS, SCHEMA_VERSION
from .postgres_tasks import PostgresTasks
from .records import delivery_from_columns as _delivery
from .records import redacted_url as _redacted

__all__ = ["PostgresStore"]

Rows = list[tuple[Any, ...]]
_OWN_OPTIONS = ("retention", "pool_size")

_CLAIM = "SELECT result, attempts, token FROM suno_hooks_claim(" + ", ".join(["%s"] * 13) + ")"
_FINISH = """
UPDATE suno_hooks_deliveries SET status = %s, error = %s, lease_until = NULL,
    updated_at = clock_timestamp()
WHERE key = %s AND token = %s RETURNING 1
"""
_EXTEND = """
UPDATE suno_hooks_deliveries SET lease_until = clock_timestamp() + make_interval(secs => %s)
WHERE key = %s AND token = %s AND status = 'processing' RETURNING 1
"""
# A processing delivery whose lease has expired is reported as abandoned.
_COLUMNS = """key, task_id, stage, body, meta, extract(epoch FROM received_at)::float8,
    extract(epoch FROM updated_at)::float8,
    CASE WHEN status = 'processing' AND lease_until <= clock_timestamp() THEN 'abandoned'
        ELSE status END,
    attempts, error"""
_COUNT_BY_STATUS = """
SELECT CASE WHEN status = 'processing' AND lease_until <= clock_timestamp() THEN 'abandoned'
    ELSE status END AS shown, count(*)
FROM suno_hooks_deliveries GROUP BY shown
"""
_STATUS_FILTERS = {
    "processing": "status = 'processing' AND lease_until > clock_timestamp()",
    "abandoned": "status = 'processing' AND lease_until <= clock_timestamp()",
    "done": "status = 'done'",
    "failed": "status = 'failed'",
}
# Every part runs even though only the first is counted (data-modifying WITH clauses).
_PURGE = """
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
_BIND = """
INSERT INTO suno_hooks_token_bindings AS b (token_id, task_id, expires_at)
VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s))
ON CONFLICT (token_id) DO UPDATE SET
    task_id = CASE WHEN b.expires_at <= clock_timestamp() THEN excluded.task_id ELSE b.task_id END,
    expires_at = CASE WHEN b.expires_at <= clock_timestamp()
        THEN excluded.expires_at ELSE b.expires_at END
RETURNING b.task_id
"""
_SWEEP_GUARD = "DELETE FROM suno_hooks_guard WHERE expires_at <= clock_timestamp()"
_GUARD_SWEEP_EVERY = 1000
_RESULTS = {result.value: result for result in ClaimResult}


def _text(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates; the replacement is stable, so a
    # cleaned key still matches its redeliveries.
    value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


class PostgresStore(PostgresTasks):
    """Keeps dedupe facts, terminal tasks, the replay guard and the inbox in PostgreSQL.

    A claim is one call of a server-side function (one round trip) that locks the rows it
    decides on; leases run on the server's clock. Connections are opened on demand and kept
    (`pool_size` idle ones per kind); when the server restarts they are replaced, and while it
    is down every operation raises, which the receiver answers with 503 `store_unavailable`.
    The schema is created or upgraded on first use.
    """

    def __init__(
        self,
        url: str = "postgresql://localhost/postgres",
        *,
        retention: float | None = None,
        pool_size: int | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        try:
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError as exc:
            raise ConfigurationError(f"Malformed PostgreSQL URL: {exc}.") from None
        own = {name: value for name, value in query if name in _OWN_OPTIONS}
        passed = [(name, value) for name, value in query if name not in _OWN_OPTIONS]
        base = url.split("?", 1)[0]
        try:
            target = f"{base}?{urlencode(passed)}" if passed else base
            options = conninfo.conninfo_to_dict(target)
        except psycopg.Error as exc:
            raise ConfigurationError(f"Bad PostgreSQL URL {_redacted(url)!r}: {exc}") from None
        options.setdefault("connect_timeout", max(1, int(connect_timeout)))
        self.url = _redacted(target)
        self._conninfo = conninfo.make_conninfo("", **options)
        self.retention = _positive("retention", retention, own.get("retention"), DEFAULT_RETENTION)
        size = _positive("pool_size", pool_size, own.get("pool_size"), 10)
        self._sync_idle: IdleConnections[psycopg.Connection[Any]] = IdleConnections(int(size))
        self._async_idle: IdleConnections[psycopg.AsyncConnection[Any]] = IdleConnections(int(size))
        self._migrated = False
        self._claims = 0

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # -- connections -----------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self._conninfo, autocommit=True)
        if not self._migrated:
            try:
                self._migrate(connection)
            except BaseException:
                discard(connection)
                raise
        return connection

    async def _aconnect(self) -> psycopg.AsyncConnection[Any]:
        if not self._migrated:
            # Rare (once per store): the schema check runs on a short-lived sync connection.
            import asyncio

            discard(await asyncio.to_thread(self._connect))
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    def _migrate(self, connection: psycopg.Connection[Any]) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(hashtext('suno_hooks_schema'))")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS suno_hooks_schema (version integer NOT NULL)"
            )
            row = connection.execute("SELECT version FROM suno_hooks_schema").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"The PostgreSQL store has schema version {current}, newer than this "
                    f"suno-hooks ({SCHEMA_VERSION}); upgrade suno-hooks."
                )
            for script in MIGRATIONS[current:]:
                for statement in script:
                    connection.execute(statement.encode())
            if row is None:
                connection.execute(
                    "INSERT INTO suno_hooks_schema (version) VALUES (%s)", (SCHEMA_VERSION,)
                )
            elif current != SCHEMA_VERSION:
                connection.execute("UPDATE suno_hooks_schema SET version = %s", (SCHEMA_VERSION,))
        self._migrated = True

    def _rows(self, sql: str, params: tuple[Any, ...]) -> Rows:
        """Run one statement and fetch its rows. A connection found dead (the server restarted
        since it was last used) is replaced once; every statement here is safe to repeat."""
        reused = self._sync_idle.take()
        connection = reused or self._connect()
        try:
            return _fetch(connection.execute(sql, params))
        except psycopg.OperationalError:
            if reused is None or not connection.closed:
                raise
            self._sync_idle.clear()
            connection = self._connect()
            return _fetch(connection.execute(sql, params))
        finally:
            self._sync_idle.give(connection)

    async def _arows(self, sql: str, params: tuple[Any, ...]) -> Rows:
        """`_rows` on an asyncio connection."""
        reused = self._async_idle.take()
        connection = reused or await self._aconnect()
        try:
            return await _afetch(await connection.execute(sql, params))
        except psycopg.OperationalError:
            if reused is None or not connection.closed:
                raise
            self._async_idle.clear()
            connection = await self._aconnect()
            return await _afetch(await connection.execute(sql, params))
        finally:
            self._async_idle.give(connection)

    # -- statements and their answers ------------------------------------------------------------

    @staticmethod
    def _claim_params(
        delivery: Delivery, lease: float, replay: ReplayCheck | None
    ) -> tuple[Any, ...]:
        return (
            _text(delivery.key),
            _text(delivery.task_id),
            _text(delivery.stage),
            delivery.terminal,
            _text(delivery.kind),
            float(lease),
            float(delivery.received_at),
            _text(delivery.meta_json()),
            delivery.body,
            new_token(),
            _text(replay.signature_key) if replay is not None else None,
            replay.body_digest if replay is not None else None,
            float(replay.ttl) if replay is not None else None,
        )

    def _claimed(self, delivery: Delivery, rows: Rows) -> Claim:
        result, attempts, token = rows[0]
        if result != "new":
            return Claim(_RESULTS[result])
        delivery.status = DeliveryStatus.PROCESSING
        delivery.attempts = int(attempts)
        delivery.updated_at = time.time()
        return Claim(ClaimResult.NEW, int(attempts), token)

    @staticmethod
    def _finish_params(key: str, token: str, error: str | None) -> tuple[Any, ...]:
        status = DeliveryStatus.DONE if error is None else DeliveryStatus.FAILED
        return (status.value, None if error is None else _text(error), _text(key), token)

    @staticmethod
    def _listing(
        status: DeliveryStatus | str | None,
        kind: str | None,
        task_id: str | None,
        limit: int,
        stage: str | None = None,
        source: str | None = None,
        offset: int = 0,
    ) -> tuple[str, tuple[Any, ...]]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append(_STATUS_FILTERS[DeliveryStatus(status).value])
        for column, value in (("kind", kind), ("task_id", task_id), ("stage", stage)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(_text(value))
        if source is not None:
            clauses.append("COALESCE(meta::jsonb ->> 'source', 'callback') = %s")
            params.append(_text(source))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.extend((int(limit), max(0, int(offset))))
        sql = (
            f"SELECT {_COLUMNS} FROM suno_hooks_deliveries {where} "
            "ORDER BY received_at DESC, id DESC LIMIT %s OFFSET %s"
        )
        return sql, tuple(params)

    def _purge_params(self, older_than: float | None) -> tuple[Any, ...]:
        return (older_than if older_than is not None else time.time() - self.retention,)

    def _after_claim(self, replay: ReplayCheck | None) -> bool:
        """True once every `_GUARD_SWEEP_EVERY` guarded claims: time to drop expired entries."""
        if replay is None:
            return False
        self._claims += 1
        return self._claims % _GUARD_SWEEP_EVERY == 0

    # -- the contract, synchronous ---------------------------------------------------------------

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide, in one round trip: new, duplicate, in progress, stale or replayed."""
        claim = self._claimed(
            delivery, self._rows(_CLAIM, self._claim_params(delivery, lease, replay))
        )
        if self._after_claim(replay):
            self._rows(_SWEEP_GUARD, ())
        return claim

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False,
        and nothing changed, when `token` no longer owns it."""
        return bool(self._rows(_FINISH, self._finish_params(key, token, error)))

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Push the lease to `lease` seconds from now (server time); False when not the owner."""
        return bool(self._rows(_EXTEND, (float(lease), _text(key), token)))

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM suno_hooks_deliveries WHERE key = %s", (_text(key),)
        )
        return _delivery(rows[0]) if rows else None

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
        query = self._listing(status, kind, task_id, limit, stage, source, offset)
        return [_delivery(row) for row in self._rows(*query)]

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (a lapsed lease counts as abandoned)."""
        return {str(status): int(count) for status, count in self._rows(_COUNT_BY_STATUS, ())}

    def purge(self, older_than: float | None = None) -> int:
        """Forget deliveries received before `older_than` (default: now − retention), expired
        replay-guard entries and token bindings; a delivery whose lease is live is kept."""
        return int(self._rows(_PURGE, self._purge_params(older_than))[0][0])

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves (for `ttl` seconds); True
        when `task_id` is that task."""
        rows = self._rows(_BIND, (_text(token_id), _text(task_id), float(ttl)))
        return bool(rows[0][0] == _text(task_id))

    def close(self) -> None:
        """Close the idle connections; the store opens new ones if used again."""
        self._sync_idle.clear()
        self._async_idle.clear()

    # -- the contract, asyncio -------------------------------------------------------------------

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim` on an asyncio connection: one round trip, no thread."""
        rows = await self._arows(_CLAIM, self._claim_params(delivery, lease, replay))
        claim = self._claimed(delivery, rows)
        if self._after_claim(replay):
            await self._arows(_SWEEP_GUARD, ())
        return claim

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish` on an asyncio connection."""
        return bool(await self._arows(_FINISH, self._finish_params(key, token, error)))

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` on an asyncio connection."""
        return bool(await self._arows(_EXTEND, (float(lease), _text(key), token)))

    async def aget(self, key: str) -> Delivery | None:
        """`get` on an asyncio connection."""
        sql = f"SELECT {_COLUMNS} FROM suno_hooks_deliveries WHERE key = %s"
        rows = await self._arows(sql, (_text(key),))
        return _delivery(rows[0]) if rows else None

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
        """`deliveries` on an asyncio connection."""
        query = self._listing(status, kind, task_id, limit, stage, source, offset)
        return [_delivery(row) for row in await self._arows(*query)]

    async def apurge(self, older_than: float | None = None) -> int:
        """`purge` on an asyncio connection."""
        return int((await self._arows(_PURGE, self._purge_params(older_than)))[0][0])

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` on an asyncio connection."""
        rows = await self._arows(_BIND, (_text(token_id), _text(task_id), float(ttl)))
        return bool(rows[0][0] == _text(task_id))

    async def aclose(self) -> None:
        """`close`."""
        self.close()


def _fetch(cursor: Any) -> Rows:
    rows: Rows = cursor.fetchall() if cursor.description is not None else []
    return rows


async def _afetch(cursor: Any) -> Rows:
    rows: Rows = await cursor.fetchall() if cursor.description is not None else []
    return rows


def _positive(name: str, given: Any, from_url: Any, default: float) -> float:
    value = given if given is not None else from_url
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number; got {value!r}.") from None
    if not number > 0:
        raise ConfigurationError(f"{name} must be positive; got {value!r}.")
    return number
