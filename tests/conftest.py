"""Shared fixtures: fixture bodies, keys, receivers and the per-adapter client factory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from suno_hooks import Event, InsecureReceiverWarning, Receiver, callback_received
from suno_hooks.stores import MemoryStore

from .support.adapters import ADAPTERS, CallbackClient, mark_django_adapters
from .support.django_kinds import kind, orm_store
from .support.stores import (
    django_db_modify_db_settings,
    django_postgres_database,
    django_postgres_store_factory,
    django_store_factory,
    make_store,
    mark_django_stores,
    memory_store_factory,
    postgres_server,
    postgres_shared_url,
    postgres_store_factory,
    redis_cluster,
    redis_cluster_shared_url,
    redis_cluster_store_factory,
    redis_server,
    redis_shared_url,
    redis_store_factory,
    sqlite_shared_url,
    sqlite_store_factory,
    store,
)

# The suite runs on every core with real servers beside it: a slow example is load, not a bug.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

__all__ = [
    "django_db_modify_db_settings",
    "django_postgres_database",
    "django_postgres_store_factory",
    "django_store_factory",
    "kind",
    "make_store",
    "memory_store_factory",
    "orm_store",
    "postgres_server",
    "postgres_shared_url",
    "postgres_store_factory",
    "redis_cluster",
    "redis_cluster_shared_url",
    "redis_cluster_store_factory",
    "redis_server",
    "redis_shared_url",
    "redis_store_factory",
    "sqlite_shared_url",
    "sqlite_store_factory",
    "store",
]

FIXTURES = Path(__file__).parent / "fixtures"
HMAC_KEY = "whk_test_current_key"
OLD_HMAC_KEY = "whk_test_previous_key"
SECRET = "test-secret-key"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_django_stores(items)
    mark_django_adapters(items)


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of one file in tests/fixtures."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    """One file in tests/fixtures, parsed."""
    return json.loads(fixture_bytes(name))


def callback_files() -> list[str]:
    """Every callback body fixture (the signature vectors are not a body)."""
    return sorted(p.name for p in FIXTURES.glob("*.json") if p.name != "signature.vectors.json")


class Calls:
    """Records every event the connected receiver saw."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, sender: Any, event: Event, **extra: Any) -> None:
        self.events.append(event)

    @property
    def count(self) -> int:
        return len(self.events)


@pytest.fixture
def calls() -> Iterator[Calls]:
    """Every event dispatched during the test (connected to `callback_received`)."""
    recorder = Calls()
    with callback_received.connected_to(recorder):
        yield recorder


@pytest.fixture
def signed_receiver() -> Receiver:
    """A receiver that requires Kie signatures (current and previous key) and a memory store."""
    return Receiver(hmac_keys=[HMAC_KEY, OLD_HMAC_KEY], secret_key=SECRET, store=MemoryStore())


@pytest.fixture(params=sorted(ADAPTERS))
def client_factory(request: pytest.FixtureRequest) -> Callable[[Receiver], CallbackClient]:
    """Builds a client for each adapter in turn: the response-table tests run through all."""
    return ADAPTERS[request.param]


def unverified_receiver(**options: Any) -> Receiver:
    """A receiver that accepts every callback unverified (`require="none"`), for tests about
    something other than verification; the `InsecureReceiverWarning` it emits is expected."""
    with pytest.warns(InsecureReceiverWarning):
        return Receiver(require="none", **options)
