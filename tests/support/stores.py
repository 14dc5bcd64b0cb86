"""Store factories for the contract tests: one fixture per store kind, each building fresh,
isolated stores and closing them after the test."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from suno_hooks.stores import (
    Claim,
    ClaimResult,
    Delivery,
    MemoryStore,
    RedisStore,
    ReplayCheck,
    SQLiteStore,
    Store,
)
from suno_hooks.stores.conformance import conforms
from suno_hooks.stores.postgres import PostgresStore

from .postgres import PostgresServer, running_postgres
from .services import RedisClusterServers, RedisServer

StoreFactory = Callable[..., Store]

STORE_KINDS = [
    "memory",
    "sqlite",
    "redis",
    "redis_cluster",
    "django",
    "django_postgres",
    "postgres",
]
# The Django database alias of the `django_postgres` kind: the session's PostgreSQL server.
DJANGO_POSTGRES = "postgres"


def offers(kind: str, protocol: Any) -> bool:
    """Whether the stores of `kind` conform to a runtime-checkable `protocol` (for filtering a
    parameter list; a bare instance is enough, conformance reads only the class's methods)."""
    from suno_hooks.contrib.django.store import DjangoStore

    classes: dict[str, type] = {
        "memory": MemoryStore,
        "sqlite": SQLiteStore,
        "redis": RedisStore,
        "redis_cluster": RedisStore,
        "django": DjangoStore,
        "django_postgres": DjangoStore,
        "postgres": PostgresStore,
    }
    return conforms(object.__new__(classes[kind]), protocol)


def store_kind(item: pytest.Item) -> str:
    """The store kind a collected test runs on ("" when none)."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    kind = params.get("make_store") or params.get("kind") or params.get("table_run", ("", ""))[1]
    return kind if isinstance(kind, str) else ""


def mark_django_stores(items: list[pytest.Item]) -> None:
    """Give every test parametrized with a Django store kind a transactional test database (on
    PostgreSQL too for `django_postgres`)."""
    for item in items:
        kind = store_kind(item)
        if kind == "django":
            item.add_marker(pytest.mark.django_db(transaction=True))
        elif kind == "django_postgres":
            databases = ["default", DJANGO_POSTGRES]
            item.add_marker(pytest.mark.django_db(transaction=True, databases=databases))


def add_django_postgres(server: PostgresServer) -> None:
    """Add the session's PostgreSQL server to Django's databases (before the test databases
    are created), as the alias `DJANGO_POSTGRES`."""
    from django.conf import settings
    from django.db import connections

    entry = dict(server.django_database)
    settings.DATABASES[DJANGO_POSTGRES] = entry
    configured = connections.configure_settings(
        {"default": connections.settings["default"], DJANGO_POSTGRES: entry}
    )
    connections.settings[DJANGO_POSTGRES] = configured[DJANGO_POSTGRES]


@pytest.fixture(params=STORE_KINDS)
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    """Builds fresh, isolated stores of one kind (each kind's fixture closes them)."""
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_store_factory")
    return factory


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    """A fresh store of each kind in turn."""
    return make_store()


def delivery(
    task_id: str = "t1",
    stage: str = "complete",
    body: bytes = b"{}",
    *,
    kind: str = "music",
    received_at: float | None = None,
) -> Delivery:
    """A delivery record as the receiver would build it (key `task_id:stage`)."""
    return Delivery(
        key=f"{task_id}:{stage}",
        task_id=task_id,
        stage=stage,
        body=body,
        kind=kind,
        received_at=time.time() if received_at is None else received_at,
    )


def finish(
    store: Store,
    delivery: Delivery,
    error: str | None = None,
    *,
    lease: float = 60,
    replay: ReplayCheck | None = None,
) -> Claim:
    """Claim a delivery as new and record its outcome with the claim's token."""
    claim = store.claim(delivery, lease=lease, replay=replay)
    assert claim.result is ClaimResult.NEW, claim
    assert store.finish(delivery.key, token=claim.token, error=error)
    return claim


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


def _django_factory(using: str) -> StoreFactory:
    from suno_hooks.contrib.django.models import Delivery as DeliveryRow
    from suno_hooks.contrib.django.models import SeenSignature, TerminalTask, TokenBinding
    from suno_hooks.contrib.django.store import DjangoStore

    # Rows another test wrote outside a test transaction would leak into this one.
    for model in (DeliveryRow, SeenSignature, TerminalTask, TokenBinding):
        model.objects.using(using).all().delete()

    return lambda **options: DjangoStore(using=using, **options)


@pytest.fixture
def django_store_factory() -> StoreFactory:
    """`DjangoStore`s on the test database (SQLite): `mark_django_stores` gives each test that
    uses one a transactional database."""
    return _django_factory("default")


@pytest.fixture(scope="session")
def django_postgres_database(
    django_db_setup: None, postgres_server: PostgresServer
) -> Iterator[str]:
    """The PostgreSQL test database's name; at the end, the sessions Django left open on worker
    threads (the async store calls) are ended, so pytest-django can drop the database."""
    from django.db import connections

    name = str(connections[DJANGO_POSTGRES].settings_dict["NAME"])
    yield name
    server = postgres_server
    admin_url = f"postgresql://{server.user}@{server.host}:{server.port}/{server.name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


@pytest.fixture
def django_postgres_store_factory(django_postgres_database: str) -> StoreFactory:
    """`DjangoStore`s on the PostgreSQL test database (alias `DJANGO_POSTGRES`, added by
    `django_db_modify_db_settings` when a collected test needs it)."""
    return _django_factory(DJANGO_POSTGRES)


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


def _redis_factory(url: str) -> Iterator[StoreFactory]:
    opened: list[RedisStore] = []

    def build(**options: Any) -> Store:
        store = RedisStore(url, prefix=f"test-{uuid.uuid4().hex}:", **options)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


@pytest.fixture
def redis_store_factory(redis_server: RedisServer) -> Iterator[StoreFactory]:
    """Fresh `RedisStore`s on the session's server, each under its own key prefix."""
    yield from _redis_factory(redis_server.url)


@pytest.fixture
def redis_shared_url(redis_server: RedisServer) -> str:
    """A Redis URL (with its own prefix) for stores in several processes."""
    return f"{redis_server.url}?prefix=shared-{uuid.uuid4().hex}:"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """One real three-node Redis Cluster for the session; tests keep apart by key prefix."""
    cluster = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster_store_factory(redis_cluster: RedisClusterServers) -> Iterator[StoreFactory]:
    """Fresh `RedisStore`s on the session's cluster (`redis+cluster://`), each under its own
    key prefix."""
    yield from _redis_factory(redis_cluster.url)


@pytest.fixture
def redis_cluster_shared_url(redis_cluster: RedisClusterServers) -> str:
    """A Redis Cluster URL (with its own prefix) for stores in several processes."""
    return f"{redis_cluster.url}?prefix=shared-{uuid.uuid4().hex}:"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session; tests keep apart by schema."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    request: pytest.FixtureRequest, django_db_modify_db_settings_parallel_suffix: None
) -> None:
    """pytest-django's hook before the test databases are created: add the PostgreSQL alias
    when a collected test runs on the `django_postgres` kind."""
    if any(store_kind(item) == "django_postgres" for item in request.session.items):
        add_django_postgres(request.getfixturevalue("postgres_server"))


def postgres_schema_url(server: PostgresServer, port: int | None = None) -> str:
    """A URL whose connections work in a new, empty schema of their own (through `port`, a
    proxy's, when given)."""
    schema = f"test_{uuid.uuid4().hex}"
    admin_url = f"postgresql://{server.user}@{server.host}:{server.port}/{server.name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = f"postgresql://{server.user}@{server.host}:{port or server.port}/{server.name}"
    return f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_store_factory(postgres_server: PostgresServer) -> Iterator[StoreFactory]:
    """Fresh `PostgresStore`s on the session's server, each in its own schema."""
    opened: list[PostgresStore] = []

    def build(**options: Any) -> Store:
        store = PostgresStore(postgres_schema_url(postgres_server), **options)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


@pytest.fixture
def postgres_shared_url(postgres_server: PostgresServer) -> str:
    """A PostgreSQL URL (with its own schema) for stores in several processes."""
    return postgres_schema_url(postgres_server)
