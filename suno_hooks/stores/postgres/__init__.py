"""`PostgresStore` (`postgresql://`): the store for many processes and hosts on PostgreSQL,
without Django."""

from __future__ import annotations

from ._schema import SCHEMA_VERSION
from ._store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore"]
