"""`DjangoStore` (`django://`): the Store protocol on the project's own database, so the inbox
shows in the admin.

Claiming is one transaction that starts with an INSERT: a unique key decides which process
records a delivery (on SQLite and PostgreSQL an `ON CONFLICT DO NOTHING` row count tells the
others, elsewhere an `IntegrityError`), and the row is then locked with `select_for_update`
before its state is read. PostgreSQL serialises on the row, SQLite on its write lock; nothing is
ever checked and then inserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connections, models, transaction
from django.db.models import F, Q

from ...errors import SunoHooksException
from ...media.kept import KeptFile
from ...stores._base import DeliveryQuery, StoreBase
from ...stores._kept import merge_kept, records_from
from ...stores._text import jsonb_value
from ...stores.base import (
    DEFAULT_RETENTION,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    new_token,
)
from ._claim_sql import ignores_conflicts, insert_row
from ._finish_sql import update_rows, updates_directly
from ._rows import lease_live, status_filter, store_delivery, stored_headers, table_text
from .models import Delivery as DeliveryRow
from .models import SeenSignature, TerminalTask, TokenBinding
from .tasks import DjangoTasks, in_database_thread
from .tasks import moment as _moment

__all__ = ["DjangoStore", "status_filter", "store_delivery"]

M = TypeVar("M", bound=models.Model)
P = ParamSpec("P")
T = TypeVar("T")

_PROCESSING = DeliveryStatus.PROCESSING.value
_DONE = DeliveryStatus.DONE.value
_FAILED = DeliveryStatus.FAILED.value
_QUEUED = DeliveryStatus.QUEUED.value


class _Stale(SunoHooksException):
    """Rolls back the savepoint of a delivery that arrived after its task ended."""


def _database_now(using: str) -> float:
    """The current time for leases, read inside the caller's transaction: the database server's
    clock on PostgreSQL (one clock for every host), this host's elsewhere."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return time.time()
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
        (seconds,) = cursor.fetchone()
    return float(seconds)


class DjangoStore(StoreBase):
    """The Store protocol (sync and async) on Django models; `using` picks the database alias."""

    def __init__(self, *, using: str = "default", retention: float = DEFAULT_RETENTION) -> None:
        self.using = using
        self.retention = retention
        self._tasks = DjangoTasks(using)

    def __repr__(self) -> str:
        return f"DjangoStore(using={self.using!r})"

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide: new, duplicate, in progress, stale or replayed."""
        return self._take(delivery, lease, replay)

    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`claim`'s decision in one transaction, recording a new delivery `queued` (no lease,
        no attempt counted); a key already queued is in progress."""
        return self._take(delivery, None, replay)

    def _take(self, delivery: Delivery, lease: float | None, replay: ReplayCheck | None) -> Claim:
        """Claim (`lease` seconds) or queue (`lease=None`) a delivery in one transaction."""
        with transaction.atomic(using=self.using):
            now = _database_now(self.using)
            if replay is not None and not self._remember_signature(replay, now):
                return Claim(ClaimResult.REPLAYED)
            result = self._claim_key(delivery, lease, now)
            if result.result is ClaimResult.NEW and delivery.terminal:
                self._end_task(delivery.task_id, now)
        if result.result is ClaimResult.NEW:
            delivery.status = (
                DeliveryStatus.PROCESSING if lease is not None else DeliveryStatus.QUEUED
            )
            delivery.attempts = result.attempts
            delivery.updated_at = now
            if lease is None:
                delivery.rings = 0
        return result

    def _sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        now = _database_now(self.using)
        cutoff = now - older_than
        ended = Q(lease_expires__lte=cutoff) | Q(
            lease_expires__isnull=True, lease_until__lte=_moment(cutoff)
        )
        rows = DeliveryRow.objects.using(self.using).filter(
            Q(status=_QUEUED) | (Q(status=_PROCESSING) & ended),
            rung_at__isnull=False,
            rung_at__lte=cutoff,
            rings__lt=max_rings,
        )
        return [store_delivery(row, now) for row in rows.order_by("received_at", "id")[:limit]]

    def note_ring(self, key: str) -> int:
        """Count one more ring for `key` and remember when; the new count (0 when not kept)."""
        with transaction.atomic(using=self.using):
            now = _database_now(self.using)
            kept = DeliveryRow.objects.using(self.using).filter(key=table_text(key, 255))
            if not kept.update(rings=F("rings") + 1, rung_at=now):
                return 0
            return int(kept.values_list("rings", flat=True).get())

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False and
        nothing changed when `token` no longer owns the delivery."""
        if not token:
            return False
        owned = {"key": table_text(key, 255), "lease_token": token}
        values = {
            "status": _DONE if error is None else _FAILED,
            "error": None if error is None else table_text(error, 4000),
            "lease_until": None,
            "lease_expires": None,
            "updated_at": _moment(time.time()),
        }
        connection = connections[self.using]
        if updates_directly(connection):
            return update_rows(connection, DeliveryRow, values, owned) == 1
        return int(DeliveryRow.objects.using(self.using).filter(**owned).update(**values)) == 1

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now while `token` owns the delivery."""
        if not token:
            return False
        with transaction.atomic(using=self.using):
            until = _database_now(self.using) + lease
            owned = DeliveryRow.objects.using(self.using).filter(
                key=table_text(key, 255), lease_token=token, status=_PROCESSING
            )
            changed = owned.update(lease_expires=until, lease_until=_moment(until))
        return int(changed) == 1

    def reopen(self, key: str, *, error: str) -> bool:
        """Mark a done delivery failed with `error` (for a replay asked for on purpose)."""
        done = DeliveryRow.objects.using(self.using).filter(key=table_text(key, 255), status=_DONE)
        changed = done.update(
            status=_FAILED, error=table_text(error, 4000), updated_at=_moment(time.time())
        )
        return int(changed) == 1

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        row = DeliveryRow.objects.using(self.using).filter(key=table_text(key, 255)).first()
        return None if row is None else store_delivery(row, _database_now(self.using))

    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the delivery's `kept` by name, its row locked meanwhile; False
        when the delivery is not kept."""
        files = tuple(files)
        with transaction.atomic(using=self.using):
            rows = DeliveryRow.objects.using(self.using).select_for_update()
            row = rows.filter(key=table_text(key, 255)).only("id", "kept").first()
            if row is None:
                return False
            existing = records_from(row.kept if isinstance(row.kept, list) else ())
            merged = merge_kept(existing, files)
            row.kept = [record.to_dict() for record in merged]
            row.save(update_fields=["kept"])
        return True

    def _deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        now = _database_now(self.using)
        rows = DeliveryRow.objects.using(self.using).order_by("-received_at", "-id")
        if query.status is not None:
            rows = rows.filter(status_filter(query.status, now))
        for column, value in (
            ("kind", query.kind),
            ("task_id", query.task_id),
            ("stage", query.stage),
        ):
            if value is not None:
                rows = rows.filter(**{column: value})
        if query.source is None:
            end = query.offset + query.limit
            return [store_delivery(row, now) for row in rows[query.offset : end]]
        # The source rides in the headers JSON: rows are matched once read.
        return query.page(store_delivery(row, now) for row in rows.iterator())

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (a lapsed lease counts as abandoned)."""
        rows = DeliveryRow.objects.using(self.using)
        now = _database_now(self.using)
        counts = {
            str(status): int(count)
            for status, count in rows.values_list("status").annotate(models.Count("id")).order_by()
        }
        processing = counts.pop(_PROCESSING, 0)
        abandoned = rows.filter(status_filter(DeliveryStatus.ABANDONED, now)).count()
        for status, count in ((_PROCESSING, processing - abandoned), ("abandoned", abandoned)):
            if count:
                counts[status] = count
        return counts

    def _purge(self, cutoff_time: float) -> int:
        now = time.time()
        cutoff = _moment(cutoff_time)
        db = self.using
        with transaction.atomic(using=db):
            removed, _ = DeliveryRow.objects.using(db).filter(received_at__lt=cutoff).delete()
            TerminalTask.objects.using(db).filter(created_at__lt=cutoff).delete()
            SeenSignature.objects.using(db).filter(expires_at__lte=_moment(now)).delete()
            TokenBinding.objects.using(db).filter(expires_at__lte=_moment(now)).delete()
        return int(removed)

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves; True when it is `task_id`.
        The binding row is inserted, or locked while it is read."""
        now = time.time()
        task_id = table_text(task_id, 128)
        expires_at = _moment(now + ttl)
        token_id = table_text(token_id, 64)
        fields = {"token_id": token_id, "task_id": task_id, "expires_at": expires_at}
        with transaction.atomic(using=self.using):
            row = self._insert_or_lock(TokenBinding, token_id, fields)
            if row is None:
                return True
            if row.expires_at.timestamp() <= now:
                row.task_id, row.expires_at = task_id, expires_at
                row.save(update_fields=["task_id", "expires_at"])
                return True
            return row.task_id == task_id

    def close(self) -> None:
        """Nothing to release: the connections belong to Django."""

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish`, and when `token` still owns the delivery, the expected task's settle in
        the same transaction (the caller's, without a savepoint, when one is open: a failure
        here fails it whole)."""
        with transaction.atomic(using=self.using, savepoint=False):
            finished = self.finish(key, token=token, error=error)
            if finished:
                self._tasks.settle(task_id, by)
        return finished

    async def _off_loop(self, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await in_database_thread(operation, *args, **kwargs)

    # -- inside the claim transaction -----------------------------------------------------------

    def _insert_or_lock(self, model: type[M], pk: str, fields: dict[str, Any]) -> M | None:
        """Insert a row (None), or lock and answer the existing one with that key."""
        lookup = {"key": pk} if model is DeliveryRow else {"pk": pk}
        connection = connections[self.using]
        if not ignores_conflicts(connection):
            try:
                with transaction.atomic(using=self.using):
                    model._default_manager.using(self.using).create(**fields)
                    return None
            except IntegrityError:
                return self._locked(model, **lookup)
        while not insert_row(connection, model, fields):
            try:
                return self._locked(model, **lookup)
            except ObjectDoesNotExist:
                continue  # purged since the INSERT met it: insert again
        return None

    def _locked(self, model: type[M], **lookup: str) -> M:
        """The row of `model` that `lookup` finds, locked until the transaction ends."""
        row: M = model._default_manager.using(self.using).select_for_update().get(**lookup)
        return row

    def _end_task(self, task_id: str, now: float) -> None:
        """Record that `task_id` reached its end (kept when already recorded)."""
        fields = {"task_id": table_text(task_id, 128), "created_at": _moment(now)}
        connection = connections[self.using]
        if ignores_conflicts(connection):
            insert_row(connection, TerminalTask, fields)
            return
        rows = TerminalTask.objects.using(self.using)
        rows.bulk_create([TerminalTask(**fields)], ignore_conflicts=True)

    def _remember_signature(self, replay: ReplayCheck, now: float) -> bool:
        """Record the signature; False when it is still remembered with another body."""
        signature_key = table_text(replay.signature_key, 255)
        body_digest = replay.body_digest
        expires_at = _moment(now + replay.ttl)
        row = self._insert_or_lock(
            SeenSignature,
            signature_key,
            {"signature_key": signature_key, "body_digest": body_digest, "expires_at": expires_at},
        )
        if row is None:
            return True
        if row.expires_at.timestamp() <= now:
            row.body_digest = body_digest
            row.expires_at = expires_at
            row.save(update_fields=["body_digest", "expires_at"])
            return True
        return row.body_digest == body_digest

    def _is_stale(self, delivery: Delivery) -> bool:
        if delivery.terminal:
            return False
        terminal = TerminalTask.objects.using(self.using)
        return bool(terminal.filter(task_id=table_text(delivery.task_id, 128)).exists())

    def _insert_delivery(
        self, delivery: Delivery, fields: dict[str, Any]
    ) -> DeliveryRow | ClaimResult:
        """Insert the delivery's row (NEW) or lock and answer the row already kept; STALE, with
        nothing inserted, for progress of a task that has ended."""
        connection = connections[self.using]
        if not ignores_conflicts(connection):
            try:
                with transaction.atomic(using=self.using):
                    row = self._insert_or_lock(DeliveryRow, fields["key"], fields)
                    if row is None and self._is_stale(delivery):
                        raise _Stale()
            except _Stale:
                return ClaimResult.STALE
            return ClaimResult.NEW if row is None else row
        ended = None if delivery.terminal else fields["task_id"]
        while not insert_row(connection, DeliveryRow, fields, unless_ended=ended):
            try:
                return self._locked(DeliveryRow, key=fields["key"])
            except DeliveryRow.DoesNotExist:
                if self._is_stale(delivery):
                    return ClaimResult.STALE
                # Not stale: the row in the way was purged since the INSERT, insert again.
        return ClaimResult.NEW

    def _claim_key(self, delivery: Delivery, lease: float | None, now: float) -> Claim:
        key = table_text(delivery.key, 255)
        fields: dict[str, Any] = {
            "key": key,
            "task_id": table_text(delivery.task_id, 128),
            "stage": table_text(delivery.stage, 64),
            "kind": delivery.kind[:32],
            "feature": table_text(delivery.feature, 100) if delivery.feature else None,
            "context": jsonb_value(delivery.context),
            "body": delivery.body,
            "headers": stored_headers(delivery),
            "peer": table_text(delivery.peer, 64) if delivery.peer else None,
            "received_at": _moment(delivery.received_at),
            "updated_at": _moment(now),
            "status": _PROCESSING,
            "attempts": 1,
            "error": None,
        }
        if lease is None:
            fields.update(status=_QUEUED, attempts=0, rings=0, rung_at=now)
            fields.update(lease_until=None, lease_expires=None, lease_token="")
        else:
            fields.update(lease_until=_moment(now + lease), lease_expires=now + lease)
            fields["lease_token"] = new_token()
        row = self._insert_delivery(delivery, fields)
        if row is ClaimResult.STALE:
            return Claim(ClaimResult.STALE)
        if not isinstance(row, DeliveryRow):
            return Claim(ClaimResult.NEW, fields["attempts"], fields["lease_token"])
        if row.status == _DONE:
            return Claim(ClaimResult.DUPLICATE)
        if row.status == _PROCESSING and lease_live(row, now):
            return Claim(ClaimResult.IN_PROGRESS)
        if row.status == _QUEUED and lease is None:
            return Claim(ClaimResult.IN_PROGRESS)
        if self._is_stale(delivery):
            return Claim(ClaimResult.STALE)
        fields["attempts"] = row.attempts + (0 if lease is None else 1)
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        return Claim(ClaimResult.NEW, fields["attempts"], fields["lease_token"])
