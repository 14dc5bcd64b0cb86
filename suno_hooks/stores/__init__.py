"""Stores: the `Store` protocol and `store_from_url` for `memory://`, `sqlite://`, `redis://`
and `postgresql://`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ConfigurationError
from .base import (
    DEFAULT_RETENTION,
    REPLAYABLE,
    AsyncQueues,
    AsyncStore,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    KnowsDone,
    Queues,
    RecordsKept,
    Reopens,
    ReplayCheck,
    Store,
)
from .bindings import AsyncBindsTokens, BindsTokens
from .memory import MemoryStore
from .redaction import redacted_text, redacted_url
from .tasks import (
    AsyncFinishesSettling,
    AsyncTaskStore,
    ExpectedTask,
    FinishesSettling,
    TaskState,
    TaskStore,
)

if TYPE_CHECKING:
    from .postgres import PostgresStore
    from .redis import RedisStore
    from .sqlite import SQLiteStore

__all__ = [
    "DEFAULT_RETENTION",
    "REPLAYABLE",
    "AsyncBindsTokens",
    "AsyncFinishesSettling",
    "AsyncQueues",
    "AsyncStore",
    "AsyncTaskStore",
    "BindsTokens",
    "Claim",
    "ClaimResult",
    "Delivery",
    "DeliveryStatus",
    "ExpectedTask",
    "FinishesSettling",
    "KnowsDone",
    "MemoryStore",
    "PostgresStore",
    "Queues",
    "RecordsKept",
    "RedisStore",
    "Reopens",
    "ReplayCheck",
    "SQLiteStore",
    "Store",
    "TaskState",
    "TaskStore",
    "store_from_url",
]

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def __getattr__(name: str) -> Any:
    # Imported when first asked for: RedisStore and PostgresStore need optional packages, and
    # some Python builds lack sqlite3.
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    if name == "RedisStore":
        from .redis import RedisStore

        return RedisStore
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _options(query: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        try:
            options[name] = int(value) if value.isdigit() else float(value)
        except ValueError:
            options[name] = value
    return options


def _build(factory: Any, url: str, *args: Any, **options: Any) -> Store:
    try:
        store: Store = factory(*args, **options)
    except TypeError as exc:
        raise ConfigurationError(
            f"Bad option in store URL {redacted_url(url)!r}: {redacted_text(str(exc), url)}."
        ) from None
    return store


def _sqlite_path(url: str, netloc: str, path: str) -> str:
    if netloc:
        raise ConfigurationError(
            f"Malformed SQLite URL {redacted_url(url)!r}: use sqlite:///relative/path.db, "
            "sqlite:////absolute/path.db or sqlite:///:memory:."
        )
    path = unquote(path[1:] if path.startswith("/") else path)
    if not path:
        raise ConfigurationError(f"The SQLite URL {redacted_url(url)!r} names no file.")
    return path


def store_from_url(url: str) -> Store:
    """Build a store from its URL: `memory://`, `sqlite:///path.db` (`sqlite:////abs/path.db`,
    `sqlite:///:memory:`), `redis://host:6379/0`, `rediss://…`, `unix:///path.sock`,
    `redis+cluster://host:6379` (a Redis Cluster; `rediss+cluster://…`) or
    `postgresql://user:password@host:5432/db` (`postgres://…`).

    Query parameters become keyword arguments (`memory://?max_keys=1000`,
    `sqlite:///suno.db?retention=86400`, `redis://host/0?prefix=myapp:`); Redis passes the
    rest to redis-py (`socket_timeout`, `password`, …), PostgreSQL to libpq (`sslmode`, …).
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"Not a store URL: {redacted_url(url)!r} (expected e.g. 'sqlite:///suno.db')."
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(f"Malformed store URL {redacted_url(url)!r}: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return _build(MemoryStore, url, **_options(parts.query))
    if scheme == "sqlite":
        path = _sqlite_path(url, parts.netloc, parts.path)
        from .sqlite import SQLiteStore

        return _build(SQLiteStore, url, path, **_options(parts.query))
    if scheme == "django":
        from ..contrib.django.store import DjangoStore

        return _build(DjangoStore, url, **_options(parts.query))
    if scheme in _REDIS_SCHEMES:
        try:
            from .redis import RedisStore
        except ImportError:
            raise ConfigurationError(
                "Redis store URLs need the redis package: pip install 'suno-hooks[redis]'."
            ) from None
        return RedisStore(url)
    if scheme in _POSTGRES_SCHEMES:
        try:
            from .postgres import PostgresStore
        except ImportError:
            raise ConfigurationError(
                "PostgreSQL store URLs need psycopg: pip install 'suno-hooks[postgres]'."
            ) from None
        return PostgresStore(url)
    raise ConfigurationError(
        f"Unknown store scheme {scheme!r} in {redacted_url(url)!r}: use memory://, "
        "sqlite:///path.db, redis://host:6379/0, postgresql://host/db or django://."
    )
