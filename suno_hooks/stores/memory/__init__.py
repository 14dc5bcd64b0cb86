"""`MemoryStore`: the in-process store for tests and single-process apps."""

from __future__ import annotations

from ._store import MemoryStore

__all__ = ["MemoryStore"]
