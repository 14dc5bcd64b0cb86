"""`PostgresStore` (`postgresql://`): the store for many processes and hosts on PostgreSQL,
without Django; psycopg 3, synchronous and asyncio."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import conninfo

from ...errors import ConfigurationError
from ...media.kept import KeptFile
from .._base import DeliveryQuery, StoreBase, positive_option
from .._group import BatchSizes
from .._kept import kept_json
from .._text import text
from ..base import (
    DEFAULT_RETENTION,
    Claim,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
)
from ..records import delivery_from_columns as _delivery
from ..redaction import redacted_text, redacted_url
from ._batches import BatchedWrites
from ._pool import IdleConnections, discard
from ._schema import MIGRATIONS, SCHEMA_VERSION
from ._statements import (
    BIND,
    CLAIM,
    COUNT_BY_STATUS,
    EXTEND,
    FINISH,
    FINISH_SETTLING,
    GET,
    NOTE_RING,
    PURGE,
    QUEUE,
    RECORD_KEPT,
    REOPEN,
    SWEEP_GUARD,
    SWEEPABLE,
    Rows,
    afetch,
    claim_params,
    claimed,
    fetch,
    finish_params,
    listing,
    queue_params,
)
from ._tasks import PostgresTasks

__all__ = ["PostgresStore"]

T = TypeVar("T")

_OWN_OPTIONS = ("retention", "pool_size")

_GUARD_SWEEP_EVERY = 1000


class PostgresStore(StoreBase):
    """Keeps dedupe facts, terminal tasks, the replay guard and the inbox in PostgreSQL.

    A claim is one call of a server-side function (one round trip) that locks the rows it
    decides on; leases run on the server's clock. On an event loop, the claims waiting at the
    same moment go to the server as one transaction in one round trip (pipeline mode), and so
    do the finishes (group commit; `batch_sizes` counts them). Connections are opened on demand
    and kept (`pool_size` idle ones per kind); when the server restarts they are replaced, and
    while it is down every operation raises, which the receiver answers with 503
    `store_unavailable`. The schema is created or upgraded on first use.
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
            # A conninfo string (`host=db password=...`) has no query: a `?` is part of a value.
            query = parse_qsl(urlsplit(url).query, keep_blank_values=True) if "://" in url else []
        except ValueError as exc:
            raise ConfigurationError(
                f"Malformed PostgreSQL URL {redacted_url(url)!r}: {redacted_text(str(exc), url)}."
            ) from None
        own = {name: value for name, value in query if name in _OWN_OPTIONS}
        passed = [(name, value) for name, value in query if name not in _OWN_OPTIONS]
        base = url.split("?", 1)[0] if "://" in url else url
        try:
            target = f"{base}?{urlencode(passed)}" if passed else base
            options = conninfo.conninfo_to_dict(target)
        except psycopg.Error as exc:
            raise ConfigurationError(
                f"Bad PostgreSQL URL {redacted_url(url)!r}: {redacted_text(str(exc), url)}"
            ) from None
        options.setdefault("connect_timeout", max(1, int(connect_timeout)))
        self.url = redacted_url(target)
        self._conninfo = conninfo.make_conninfo("", **options)
        given = retention if retention is not None else own.get("retention")
        self.retention = positive_option("retention", given, DEFAULT_RETENTION)
        size = positive_option(
            "pool_size", pool_size if pool_size is not None else own.get("pool_size"), 10
        )
        self._sync_idle: IdleConnections[psycopg.Connection[Any]] = IdleConnections(int(size))
        self._async_idle: IdleConnections[psycopg.AsyncConnection[Any]] = IdleConnections(int(size))
        self._migrated = False
        self._claims = 0
        self._batch_sizes = BatchSizes()
        self._batched = BatchedWrites(self._arun, self._batch_sizes)
        self._tasks = PostgresTasks(self._rows, self._arows)

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
            return fetch(connection.execute(sql, params))
        except psycopg.OperationalError:
            if reused is None or not connection.closed:
                raise
            self._sync_idle.clear()
            connection = self._connect()
            return fetch(connection.execute(sql, params))
        finally:
            self._sync_idle.give(connection)

    async def _arun(self, operation: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """`operation(connection)` on a kept asyncio connection, else a new one; as in `_rows`,
        a connection found dead is replaced once, so `operation` must be safe to repeat."""
        reused = self._async_idle.take()
        connection = reused or await self._aconnect()
        try:
            return await operation(connection)
        except psycopg.OperationalError:
            if reused is None or not connection.closed:
                raise
            self._async_idle.clear()
            connection = await self._aconnect()
            return await operation(connection)
        finally:
            self._async_idle.give(connection)

    async def _arows(self, sql: str, params: tuple[Any, ...]) -> Rows:
        """`_rows` on an asyncio connection."""

        async def fetch(connection: psycopg.AsyncConnection[Any]) -> Rows:
            return await afetch(await connection.execute(sql, params))

        return await self._arun(fetch)

    # -- statements and their answers ------------------------------------------------------------

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
        claim = claimed(delivery, self._rows(CLAIM, claim_params(delivery, lease, replay)))
        if self._after_claim(replay):
            self._rows(SWEEP_GUARD, ())
        return claim

    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`claim`'s decision in one round trip, recording a new delivery `queued` (no lease,
        no attempt counted); a key already queued is in progress."""
        rows = self._rows(QUEUE, queue_params(delivery, replay))
        claim = claimed(delivery, rows, DeliveryStatus.QUEUED)
        if self._after_claim(replay):
            self._rows(SWEEP_GUARD, ())
        return claim

    def _sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        return [_delivery(row) for row in self._rows(SWEEPABLE, (older_than, max_rings, limit))]

    def note_ring(self, key: str) -> int:
        """Count one more ring for `key` and remember when; the new count (0 when not kept)."""
        rows = self._rows(NOTE_RING, (text(key),))
        return int(rows[0][0]) if rows else 0

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False,
        and nothing changed, when `token` no longer owns it."""
        return bool(self._rows(FINISH, finish_params(key, token, error)))

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish`, settling the expected task in the same statement when `token` still owns
        the delivery."""
        params = (*finish_params(key, token, error), by, time.time(), task_id)
        return bool(self._rows(FINISH_SETTLING, params))

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Push the lease to `lease` seconds from now (server time); False when not the owner."""
        return bool(self._rows(EXTEND, (float(lease), text(key), token)))

    def reopen(self, key: str, *, error: str) -> bool:
        """Mark a done delivery failed with `error` (for a replay asked for on purpose)."""
        return bool(self._rows(REOPEN, (text(error), text(key))))

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        rows = self._rows(GET, (text(key),))
        return _delivery(rows[0]) if rows else None

    def _deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        return [_delivery(row) for row in self._rows(*listing(query))]

    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the delivery's `kept` by name, in one statement; False when the
        delivery is not kept."""
        return bool(self._rows(RECORD_KEPT, (kept_json(files), text(key))))

    async def arecord_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """`record_kept` on an asyncio connection."""
        return bool(await self._arows(RECORD_KEPT, (kept_json(files), text(key))))

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (a lapsed lease counts as abandoned)."""
        return {str(status): int(count) for status, count in self._rows(COUNT_BY_STATUS, ())}

    def _purge(self, cutoff: float) -> int:
        return int(self._rows(PURGE, (cutoff,))[0][0])

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves (for `ttl` seconds); True
        when `task_id` is that task."""
        rows = self._rows(BIND, (text(token_id), text(task_id), float(ttl)))
        return bool(rows[0][0] == text(task_id))

    def close(self) -> None:
        """Close the idle connections; the store opens new ones if used again."""
        self._sync_idle.clear()
        self._async_idle.clear()

    # -- the contract, asyncio -------------------------------------------------------------------

    @property
    def batch_sizes(self) -> BatchSizes:
        """How many batches of each size the claims and the finishes made on event loops were
        written in: `batch_sizes.claims[n]` batches of `n` claims went to the server as one
        transaction (likewise `finishes`)."""
        return self._batch_sizes

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim`, in one transaction and round trip with the claims waiting at the same moment
        on this event loop; each gets its own answer, lease token or error, once the transaction
        has committed."""
        rows = await self._batched.claims.submit((CLAIM, claim_params(delivery, lease, replay)))
        claim = claimed(delivery, rows)
        if self._after_claim(replay):
            await self._arows(SWEEP_GUARD, ())
        return claim

    async def aqueue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`queue` on an asyncio connection: one round trip, no thread."""
        rows = await self._arows(QUEUE, queue_params(delivery, replay))
        claim = claimed(delivery, rows, DeliveryStatus.QUEUED)
        if self._after_claim(replay):
            await self._arows(SWEEP_GUARD, ())
        return claim

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish`, in one transaction with the finishes waiting at the same moment."""
        return bool(await self._batched.finishes.submit((FINISH, finish_params(key, token, error))))

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish_settling`, in one transaction with the finishes waiting at the same moment."""
        params = (*finish_params(key, token, error), by, time.time(), task_id)
        return bool(await self._batched.finishes.submit((FINISH_SETTLING, params)))

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` on an asyncio connection."""
        return bool(await self._arows(EXTEND, (float(lease), text(key), token)))

    async def aget(self, key: str) -> Delivery | None:
        """`get` on an asyncio connection."""
        rows = await self._arows(GET, (text(key),))
        return _delivery(rows[0]) if rows else None

    async def _adeliveries(self, query: DeliveryQuery) -> list[Delivery]:
        return [_delivery(row) for row in await self._arows(*listing(query))]

    async def _apurge(self, cutoff: float) -> int:
        return int((await self._arows(PURGE, (cutoff,)))[0][0])

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` on an asyncio connection."""
        rows = await self._arows(BIND, (text(token_id), text(task_id), float(ttl)))
        return bool(rows[0][0] == text(task_id))
