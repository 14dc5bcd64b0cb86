"""`SQLiteStore`: the embedded store for one machine, shared by every thread and process (WAL)."""

from __future__ import annotations

from ._schema import SCHEMA_VERSION
from ._store import SQLiteStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]
