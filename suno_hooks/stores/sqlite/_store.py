"""`SQLiteStore`: the embedded store for one machine, shared by every thread and process (WAL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ...errors import ConfigurationError
from ...media.kept import KeptFile
from .._base import DeliveryQuery, StoreBase
from .._group import BatchSizes
from .._kept import kept_from_json, kept_json, merge_kept
from ..base import (
    DEFAULT_RETENTION,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    new_token,
)
from ..records import delivery_from_columns as _delivery
from ._batches import BatchedWrites, ClaimItem, FinishItem
from ._inline import InlineWriter, checkpoint
from ._pool import ConnectionPool
from ._schema import KEPT_VERSION, SCHEMA_VERSION, check_schema, migrate
from ._statements import (
    BIND,
    COLUMNS,
    COLUMNS_BEFORE_KEPT,
    COLUMNS_BEFORE_RINGS,
    EXTEND,
    KEPT,
    PURGE_KEEPS_GUARDS,
    RECORD_KEPT,
    REOPEN,
    listing,
)
from ._tasks import SQLiteTasks
from ._writes import (
    claim_params,
    fast_claim_or_duplicate,
    finish,
    finish_settling,
    full_claim,
    note_ring,
    sweepable_rows,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

logger = logging.getLogger("suno_hooks")

T = TypeVar("T")

_SYNCHRONOUS = ("off", "normal", "full", "extra")
_GUARD_SWEEP_EVERY = 1000


class SQLiteStore(StoreBase):
    """Keeps dedupe facts, terminal tasks, the replay guard and the inbox in one SQLite file.

    Threads borrow connections from a small pool (at most `pool_size` kept idle; one that
    raised a database error is replaced); a new claim is one statement and any other claim one
    `BEGIN IMMEDIATE` transaction, so claims are atomic across threads and processes. On an
    event loop, the claims waiting at the same moment go to the file as one transaction, and so
    do the finishes (group commit; `batch_sizes` counts them), written inline when the file is
    free, never waiting on the lock. Keys are the receiver's dedupe keys,
    `task_id:stage`. `path=":memory:"` keeps one private database for this store object;
    `read_only=True` (`?read_only=1` in the URL) opens an existing inbox for reading only.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: float = DEFAULT_RETENTION,
        timeout: float = 5.0,
        synchronous: str = "normal",
        pool_size: int = 8,
        read_only: bool = False,
    ) -> None:
        if str(synchronous).lower() not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"synchronous must be one of {', '.join(_SYNCHRONOUS)}; got {synchronous!r}."
            )
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ConfigurationError(f"timeout must be a number of seconds; got {timeout!r}.")
        if not isinstance(retention, (int, float)) or retention <= 0:
            raise ConfigurationError(f"retention must be a positive number; got {retention!r}.")
        self.path = os.fspath(path)
        self.retention = float(retention)
        self.timeout = float(timeout)
        self.synchronous = str(synchronous).lower()
        self._in_memory = self.path in ("", ":memory:")
        self.read_only = bool(read_only)
        self._shared_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self._in_memory else contextlib.nullcontext()
        )
        self._shared: sqlite3.Connection | None = None
        self.pool = ConnectionPool(self._open, size=pool_size)
        self._claims = 0
        self._batch_sizes = BatchSizes()
        self._batched = (
            None
            if self._in_memory or self.read_only
            else BatchedWrites(
                InlineWriter(self._open, self._checkpoint), self.pool, self._batch_sizes
            )
        )
        self._tasks = SQLiteTasks(self._connection, self._transaction)
        self._columns = COLUMNS
        try:
            if self.read_only:
                with self._connection() as conn:
                    version = check_schema(conn, self.path)
                    if version < KEPT_VERSION:
                        self._columns = COLUMNS_BEFORE_KEPT
                    elif version < SCHEMA_VERSION:
                        self._columns = COLUMNS_BEFORE_RINGS
            else:
                migrate(self._transaction, self.path, self.timeout)
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"Cannot open the SQLite store at {self.path!r}: {exc}."
            ) from None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- connections -----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        target, uri = self.path, False
        if self.read_only:  # never creates the file, never writes to it
            target, uri = Path(self.path).resolve().as_uri() + "?mode=ro", True
        conn = sqlite3.connect(
            target, timeout=self.timeout, isolation_level=None, check_same_thread=False, uri=uri
        )
        try:
            if not self._in_memory and not self.read_only:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._in_memory:
            # One private database lives in one connection: it is never replaced.
            with self._shared_lock:
                if self._shared is None:
                    self._shared = self._open()
                yield self._shared
            return
        with self.pool.connection() as conn:
            yield conn

    def _run(self, operation: Callable[..., T], *args: Any) -> T:
        """`operation(conn, *args)` on a connection, as `with self._connection()` does."""
        if self._in_memory:
            with self._connection() as conn:
                return operation(conn, *args)
        return self.pool.run(operation, *args)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    # -- the contract ----------------------------------------------------------------------------

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide: new, duplicate, in progress, stale or replayed."""
        params = claim_params(delivery, lease, replay, new_token())
        inserted, duplicate = self._run(fast_claim_or_duplicate, replay, params)
        if duplicate:
            return Claim(ClaimResult.DUPLICATE)
        if not inserted:
            return self._full_claim(delivery, replay, params)
        claim = self._claimed(delivery, 1, params[5], params[10])
        if self._sweep_due(replay):
            self._sweep_guard(params[5])
        return claim

    def _full_claim(
        self,
        delivery: Delivery,
        replay: ReplayCheck | None,
        params: tuple[Any, ...],
        queue: bool = False,
    ) -> Claim:
        with self._transaction() as conn:
            decided = full_claim(conn, replay, params, queue)
        if isinstance(decided, Claim):
            return decided
        if queue:
            return self._claimed(delivery, *decided, "", DeliveryStatus.QUEUED)
        return self._claimed(delivery, *decided, params[10])

    def _claimed(
        self,
        delivery: Delivery,
        attempts: int,
        now: float,
        token: str,
        status: DeliveryStatus | None = None,
    ) -> Claim:
        delivery.status = status or DeliveryStatus.PROCESSING
        delivery.attempts = attempts
        delivery.updated_at = now
        return Claim(ClaimResult.NEW, attempts, token)

    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`claim`'s decision in one transaction, recording a new delivery `queued` (no lease,
        no attempt counted); a key already queued is in progress."""
        params = claim_params(delivery, 0.0, replay, "")
        inserted, duplicate = self._run(fast_claim_or_duplicate, replay, params, True)
        if duplicate:
            return Claim(ClaimResult.DUPLICATE)
        if not inserted:
            return self._full_claim(delivery, replay, params, True)
        delivery.rings = 0
        return self._claimed(delivery, 0, params[5], "", DeliveryStatus.QUEUED)

    def _sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        return [_delivery(row) for row in self._run(sweepable_rows, older_than, max_rings, limit)]

    def note_ring(self, key: str) -> int:
        """Count one more ring for `key` and remember when; the new count (0 when not kept)."""
        return self._run(note_ring, key)

    def _sweep_due(self, replay: ReplayCheck | None) -> bool:
        self._claims += 1
        return replay is not None and self._claims % _GUARD_SWEEP_EVERY == 0

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False and
        nothing changed when `token` no longer owns the delivery."""
        return self._run(finish, key, token, error)

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish`, and `settle(task_id, by=by)` in the same transaction when `token` still
        owns the delivery."""
        return self._run(finish_settling, key, token, error, task_id, by)

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now while `token` owns the delivery."""
        with self._connection() as conn:
            changed = conn.execute(EXTEND, (time.time() + lease, key, token)).rowcount
        return changed == 1

    def reopen(self, key: str, *, error: str) -> bool:
        """Mark a done delivery failed with `error` (for a replay asked for on purpose)."""
        with self._connection() as conn:
            changed = conn.execute(REOPEN, (error, time.time(), key)).rowcount
        return changed == 1

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {self._columns} FROM suno_hooks_deliveries WHERE key = ?2",
                (time.time(), key),
            ).fetchone()
        return _delivery(row) if row is not None else None

    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the delivery's `kept` by name, in one write transaction; False
        when the delivery is not kept."""
        files = tuple(files)
        with self._transaction() as conn:
            row = conn.execute(KEPT, (key,)).fetchone()
            if row is None:
                return False
            conn.execute(RECORD_KEPT, (kept_json(merge_kept(kept_from_json(row[0]), files)), key))
        return True

    def _deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        statement, params = listing(query, self._columns, time.time())
        with self._connection() as conn:
            rows = conn.execute(statement, params).fetchall()
        return [_delivery(row) for row in rows]

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (a lapsed lease counts as abandoned)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT CASE WHEN status = 'processing' AND lease_until <= ?1 THEN 'abandoned' "
                "ELSE status END AS shown, COUNT(*) FROM suno_hooks_deliveries GROUP BY shown",
                (time.time(),),
            ).fetchall()
        return {str(status): int(count) for status, count in rows}

    def _purge(self, cutoff: float) -> int:
        now = time.time()
        with self._transaction() as conn:
            conn.execute(PURGE_KEEPS_GUARDS, (cutoff, now))
            removed = conn.execute(
                "DELETE FROM suno_hooks_deliveries WHERE received_at < ? "
                "AND NOT (status = 'processing' AND lease_until > ?)",
                (cutoff, now),
            ).rowcount
            conn.execute("DELETE FROM suno_hooks_guard WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM suno_hooks_token_bindings WHERE expires_at <= ?", (now,))
        return int(removed)

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves; True when it is `task_id`."""
        now = time.time()
        with self._transaction() as conn:
            (bound,) = conn.execute(BIND, (token_id, task_id, now + ttl, now)).fetchone()
        return bool(bound == task_id)

    def _sweep_guard(self, now: float) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM suno_hooks_guard WHERE expires_at <= ?", (now,))

    # -- on an event loop: claims, and finishes, waiting at the same moment written together -----

    @property
    def batch_sizes(self) -> BatchSizes:
        """How many batches of each size the claims and the finishes made on event loops were
        written in: `batch_sizes.claims[n]` batches of `n` claims went to the file as one
        transaction (likewise `finishes`). Empty for `:memory:` and read-only stores."""
        return self._batch_sizes

    async def aclaim(
        self,
        delivery: Delivery,
        *,
        lease: float,
        replay: ReplayCheck | None = None,
    ) -> Claim:
        """`claim`, in one transaction with the claims waiting at the same moment on this event
        loop, never waiting on the file lock on the loop; each gets its own answer, lease token
        or error, once the transaction has committed."""
        if self._batched is None:
            return await super().aclaim(delivery, lease=lease, replay=replay)
        params = claim_params(delivery, lease, replay, new_token())
        decided = await self._batched.claims.submit(ClaimItem(replay, params))
        if isinstance(decided, Claim):
            return decided
        if self._sweep_due(replay):
            await asyncio.to_thread(self._sweep_guard, decided[1])
        return self._claimed(delivery, *decided, params[10])

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish`, in one transaction with the finishes waiting at the same moment."""
        if self._batched is None:
            return await super().afinish(key, token=token, error=error)
        return await self._batched.finishes.submit(FinishItem(key, token, error))

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish_settling`, in one transaction with the finishes waiting at the same moment."""
        if self._batched is None:
            return await super().afinish_settling(
                key, token=token, error=error, task_id=task_id, by=by
            )
        return await self._batched.finishes.submit(FinishItem(key, token, error, (task_id, by)))

    def _checkpoint(self) -> bool:
        """`checkpoint` on a pooled connection (what inline writes leave to a worker thread);
        False, and logged, when it failed."""
        try:
            return self._run(checkpoint, self.timeout)
        except sqlite3.Error as exc:
            logger.warning("SQLite checkpoint of %s failed: %s", self.path, exc)
            return False

    def close(self) -> None:
        """Close the pooled connections; the store must not be used afterwards."""
        self.pool.close()
        if self._batched is not None:
            self._batched.close()
        if self._shared is not None:
            self._shared.close()
            self._shared = None
