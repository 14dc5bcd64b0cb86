"""Whether the receivers' open transaction did database work that a delivery's `done` mark
should commit with: when it did none, the mark is better written on its own, as before."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections

__all__ = ["work_check"]

_IDLE = 0
"""libpq's transaction status before any statement of the transaction ran (`PQTRANS_IDLE`)."""


def work_check(using: str) -> Callable[[], bool]:
    """Called inside a transaction on `using` before the receivers run: a check of whether,
    by the time it is called, the transaction holds their work.

    On SQLite, rows they changed: a transaction that only read would have to upgrade its lock
    to write the mark, which SQLite refuses at once, without waiting, while another connection
    writes. On PostgreSQL, any statement they ran: before the first one the transaction is not
    open on the server, and the mark alone is one autocommitted statement. Elsewhere, always.
    """
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        before = raw.total_changes
        return lambda: bool(raw.total_changes != before)
    if connection.vendor == "postgresql":
        return lambda: bool(raw.info.transaction_status != _IDLE)
    return lambda: True
