"""Store factories for the contract tests: one fixture per store kind, each building fresh,
isolated stores and closing them after the test."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from suno_hooks.stores import MemoryStore, RedisStore, SQLiteStore, Store

from .services import RedisServer

StoreFactory = Callable[..., Store]

STORE_KINDS = ["memory", "sqlite", "redis"]


@pytest.fixture(
    params=[*STORE_KINDS, pytest.param("django", marks=pytest.mark.django_db(transaction=True))]
)
def every_store(request: pytest.FixtureRequest) -> Store:
    """One fresh store of each kind in turn, the Django ORM store included."""
    if request.param == "django":
        from suno_hooks.contrib.django.store import DjangoStore

        return DjangoStore()
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_store_factory")
    return factory()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; tests keep apart by key prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def memory_store_factory() -> StoreFactory:
    """Fresh `MemoryStore`s."""
    return lambda **options: MemoryStore(**options)


@pytest.fixture
def sqlite_store_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    """Fresh `SQLiteStore`s, each on its own file in the test's directory."""
    opened: list[SQLiteStore] = []
    counter = itertools.count()

    def build(**options: Any) -> Store:
        store = SQLiteStore(tmp_path / f"store{next(counter)}.db", **options)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


@pytest.fixture
def sqlite_shared_url(tmp_path: Path) -> str:
    """A SQLite file URL for stores in several processes."""
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.fixture
def redis_store_factory(redis_server: RedisServer) -> Iterator[StoreFactory]:
    """Fresh `RedisStore`s on the session's server, each under its own key prefix."""
    opened: list[RedisStore] = []

    def build(**options: Any) -> Store:
        store = RedisStore(redis_server.url, prefix=f"test-{uuid.uuid4().hex}:", **options)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


@pytest.fixture
def redis_shared_url(redis_server: RedisServer) -> str:
    """A Redis URL (with its own prefix) for stores in several processes."""
    return f"{redis_server.url}?prefix=shared-{uuid.uuid4().hex}:"
