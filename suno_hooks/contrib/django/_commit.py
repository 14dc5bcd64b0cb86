"""Rings that wait for the commit: a delivery queued through Django's ORM inside an open
transaction (a view under `ATOMIC_REQUESTS`) is not visible to a worker until it commits."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

__all__ = ["after_commit"]


def after_commit(ring: Callable[[str], bool], using: str | None) -> Callable[[str], bool]:
    """`ring`, run at once outside a transaction on the database `using`, and when the open
    one commits inside it (a rolled-back transaction rings nothing; True is then answered, as
    the ring is only deferred)."""

    def ring_after_commit(key: str) -> bool:
        if not transaction.get_connection(using).in_atomic_block:
            return ring(key)
        transaction.on_commit(lambda: ring(key), using=using)
        return True

    return ring_after_commit
