"""`RedisStore`: the store for many processes and hosts, on one Redis server or a Redis
Cluster."""

from __future__ import annotations

from ._store import DEFAULT_PREFIX, RedisStore

__all__ = ["DEFAULT_PREFIX", "RedisStore"]
