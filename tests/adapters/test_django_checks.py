"""System checks for `settings.SUNO_HOOKS`: each problem has its id and a hint."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

from suno_hooks import Receiver
from suno_hooks.contrib.django.checks import check_settings
from suno_hooks.contrib.django.dispatcher import DjangoDispatcher
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.stores import MemoryStore

from ..conftest import unverified_receiver


def ids(config: Any, **extra: Any) -> list[tuple[str, str]]:
    with override_settings(SUNO_HOOKS=config, **extra):
        found = check_settings()
    for message in found:
        assert message.hint, message
    return [(m.id or "", m.hint or "") for m in found]


def test_a_good_configuration_passes():
    assert ids({"HMAC_KEYS": ["k"], "STORE": "django://", "TOLERANCE": 120}) == []
    assert ids({"STORE": "memory://"}) == []  # token secret defaults to Django's SECRET_KEY


def test_checks_are_registered_with_django():
    # Only the app's tag: Django's own model checks query the database, which needs django_db.
    assert "suno_hooks" in checks.registry.registry.tags_available()
    with override_settings(SUNO_HOOKS=["not", "a", "dict"]):
        found = checks.run_checks(tags=["suno_hooks"])
    assert [m.id for m in found if m.id and m.id.startswith("suno_hooks")] == ["suno_hooks.E001"]


def test_not_a_dict_is_e001():
    [(code, hint)] = ids("django://")
    assert code == "suno_hooks.E001"
    assert "HMAC_KEYS" in hint


def test_unknown_key_is_e002_with_a_suggestion():
    [(code, hint)] = ids({"HMAC_KEY": ["k"]})
    assert code == "suno_hooks.E002"
    assert "Did you mean 'HMAC_KEYS'?" in hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HMAC_KEYS", 42),
        ("HMAC_KEYS", ["ok", 3]),
        ("TOLERANCE", "300"),
        ("TOLERANCE", -1),
        ("STORE", 5),
        ("MAX_BODY", True),
        ("ASYNC", "yes"),
        ("RECEIVER", "suno_hooks.Receiver"),
        ("ALLOWED_IPS", "10.0.0.0/8"),
    ],
)
def test_wrong_type_is_e003(key: str, value: Any):
    found = ids({"HMAC_KEYS": ["k"], key: value})
    assert [code for code, _ in found] == ["suno_hooks.E003"]
    assert found[0][1].startswith(f"{key} must be")


@pytest.mark.parametrize("url", ["mysql://db/suno", "suno.db", "ftp://x"])
def test_bad_store_url_is_e004(url: str):
    [(code, hint)] = ids({"HMAC_KEYS": ["k"], "STORE": url})
    assert code == "suno_hooks.E004"
    assert "django://" in hint


@pytest.mark.parametrize(
    ("config", "needed"),
    [
        ({"REQUIRE": "signature"}, "HMAC_KEYS"),
        ({"REQUIRE": "both", "HMAC_KEYS": ["k"], "SECRET_KEY": None}, "SECRET_KEY"),
        ({"REQUIRE": "always"}, "one of"),
    ],
)
def test_require_that_cannot_work_is_e005(config: dict[str, Any], needed: str):
    [(code, hint)] = ids(config)
    assert code == "suno_hooks.E005"
    assert needed in hint


def test_no_verification_is_e008_unless_require_none_is_written():
    [(code, hint)] = ids({"SECRET_KEY": None})
    assert code == "suno_hooks.E008"
    assert "HMAC_KEYS" in hint and "'none'" in hint
    assert [c for c, _ in ids({"SECRET_KEY": None}, SECRET_KEY="")] == ["suno_hooks.E008"]


def test_require_none_written_is_w001():
    assert [c for c, _ in ids({"HMAC_KEYS": ["k"], "REQUIRE": "none"})] == ["suno_hooks.W001"]
    assert [c for c, _ in ids({"SECRET_KEY": None, "REQUIRE": "none"})] == ["suno_hooks.W001"]
    unverified = unverified_receiver(store=MemoryStore())
    assert [c for c, _ in ids({"RECEIVER": unverified})] == ["suno_hooks.W001"]


@pytest.mark.parametrize(
    "config",
    [{"HMAC_KEYS": [""]}, {"HMAC_KEYS": ["k", " "]}, {"HMAC_KEYS": ""}, {"SECRET_KEY": ""}],
)
def test_an_empty_key_is_e009(config: dict[str, Any]):
    [(code, hint)] = ids(config)
    assert code == "suno_hooks.E009"
    assert "Give the key" in hint


@pytest.mark.parametrize(
    ("store", "module", "extra"),
    [
        ("redis://localhost:6379/0", "redis", "redis"),
        ("redis+cluster://localhost:7000", "redis", "redis"),
        ("postgresql://localhost/suno", "psycopg", "postgres"),
        ("postgres://localhost/suno", "psycopg", "postgres"),
    ],
)
def test_a_store_whose_extra_is_missing_is_e010(
    store: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
):
    config = {"HMAC_KEYS": ["k"], "STORE": store}
    assert ids(config) == []
    monkeypatch.setitem(sys.modules, module, None)  # `import redis` now raises ImportError
    with override_settings(SUNO_HOOKS=config):
        found = checks.run_checks(tags=["suno_hooks"])
    [message] = [m for m in found if m.id and m.id.startswith("suno_hooks")]
    assert message.id == "suno_hooks.E010" and message.is_serious()
    assert message.hint == f'pip install "suno-hooks[{extra}]"'
    assert module in message.msg


def test_keys_beside_a_ready_receiver_are_w002():
    ready = Receiver(hmac_keys=["k"], store=MemoryStore())
    [(code, hint)] = ids({"RECEIVER": ready, "STORE": "memory://"})
    assert code == "suno_hooks.W002"
    assert "RECEIVER" in hint


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_store_database_must_be_configured_and_autocommit():
    assert ids({"STORE": "django://?using=other"}) == [
        (
            "suno_hooks.E006",
            "Name a configured alias: 'django://?using=<alias>', or add it to DATABASES.",
        )
    ]
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "manual": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "AUTOCOMMIT": False},
    }
    found = ids({"STORE": "django://?using=manual"}, DATABASES=databases)
    assert [code for code, _ in found] == ["suno_hooks.E007"]
    assert ids({}, DATABASES=databases) == []  # the default store: django:// on "default"
    assert ids({"STORE": "memory://"}, DATABASES=databases) == []
    receiver = Receiver(store=DjangoStore(using="manual"), secret_key="s")
    found = ids({"RECEIVER": receiver}, DATABASES=databases)
    assert [code for code, _ in found] == ["suno_hooks.E007"]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_a_transaction_database_that_is_not_configured_is_e011():
    def ready(using: str | None, store: Any = None) -> Receiver:
        dispatcher = DjangoDispatcher(using=using)
        return Receiver(hmac_keys=["k"], store=store or MemoryStore(), dispatcher=dispatcher)

    [(code, hint)] = ids({"RECEIVER": ready("reports")})
    assert code == "suno_hooks.E011"
    assert "DjangoDispatcher(using=...)" in hint
    assert ids({"RECEIVER": ready("default")}) == []
    assert ids({"RECEIVER": ready(None)}, DATABASES={}) == []  # runs without a transaction
    empty = {"default": {"ENGINE": "django.db.backends.dummy"}}  # Django's stand-in for {}
    assert [code for code, _ in ids({"RECEIVER": ready("default")}, DATABASES=empty)] == [
        "suno_hooks.E011"
    ]
    # The store's own alias is E006's, not reported twice.
    found = ids({"RECEIVER": ready("other", DjangoStore(using="other"))})
    assert [code for code, _ in found] == ["suno_hooks.E006"]
