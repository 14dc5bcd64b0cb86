"""Store factories for the contract tests: one fixture per store kind, each building fresh,
isolated stores and closing them after the test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from suno_hooks.stores import MemoryStore, SQLiteStore, Store

StoreFactory = Callable[..., Store]

STORE_KINDS = ["memory", "sqlite"]


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
