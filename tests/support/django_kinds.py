"""The `kind` and `orm_store` fixtures of the tests that run a `DjangoStore` once on the SQLite
test database and once on the PostgreSQL one (the `kind` parameter is what gives each test its
transactional database); a test's own `kind` parametrization narrows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported when a test asks: this module loads before Django is set up
    from suno_hooks.contrib.django.store import DjangoStore


@pytest.fixture(params=["django", "django_postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    """The ORM store on the SQLite test database, then on the PostgreSQL one."""
    return str(request.param)


@pytest.fixture
def orm_store(kind: str, request: pytest.FixtureRequest) -> DjangoStore:
    """A `DjangoStore` of `kind`, its tables (expected tasks too) emptied."""
    from suno_hooks.contrib.django.models import ExpectedTask
    from suno_hooks.contrib.django.store import DjangoStore

    store = request.getfixturevalue(f"{kind}_store_factory")()
    assert isinstance(store, DjangoStore)
    ExpectedTask.objects.using(store.using).all().delete()
    return store
