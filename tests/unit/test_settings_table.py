"""One settings table: every receiver setting can be set from the environment, Flask's app.config
and Django's `settings.SUNO_HOOKS`, reaches the `Receiver` the same way from each, and a bad
value is refused by each with a `ConfigurationError` naming the setting (never echoing a
secret)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from flask import Flask

from suno_hooks import ConfigurationError, Receiver
from suno_hooks._pipeline.settings import ENV_PREFIX, ENV_VARIABLES, SETTINGS
from suno_hooks._security.signatures import HmacVerifier
from suno_hooks._security.tokens import TokenSigner
from suno_hooks.contrib.django.checks import check_settings
from suno_hooks.contrib.django.conf import RECEIVER_OPTIONS, get_receiver
from suno_hooks.contrib.flask import CONFIG_OPTIONS, SunoHooks
from suno_hooks.errors import InvalidToken
from suno_hooks.handoff import ThreadHandoff
from suno_hooks.stores import MemoryStore
from suno_hooks.stores.sqlite import SQLiteStore

# Every source starts from this, so a receiver builds whatever the row under test sets.
BASE = {"HMAC_KEYS": "base-hmac-key", "SECRET_KEY": "base-secret", "STORE": "memory://"}
NOT_SETTINGS = {"dispatcher"}  # takes an object, not a plain value


@dataclass(frozen=True)
class Row:
    """A good value of one setting as text and as a Python value, and how the receiver shows it."""

    name: str
    text: str
    native: Any
    reached: Callable[[Receiver], bool]


def _signs_with(*keys: str) -> Callable[[Receiver], bool]:
    def check(receiver: Receiver) -> bool:
        expected = HmacVerifier(list(keys)).sign("task-1", 1_700_000_000)
        verifier = receiver.verifier
        return verifier is not None and verifier.sign("task-1", 1_700_000_000) == expected

    return check


def _mints_for(secret: str) -> Callable[[Receiver], bool]:
    def check(receiver: Receiver) -> bool:
        url = receiver.callback_url("https://x.test/cb", context={"n": 1})
        token = parse_qs(urlsplit(url).query)["token"][0]
        try:
            return TokenSigner(secret).read(token) is not None
        except InvalidToken:
            return False

    return check


def _networks(receiver: Receiver) -> list[str]:
    if receiver.sources is None:
        return []
    return [str(network) for network in receiver.sources.networks]


ROWS = [
    Row(
        "HMAC_KEYS", "whk-current, whk-old", ["whk-current", "whk-old"], _signs_with("whk-current")
    ),
    Row("SECRET_KEY", "row-secret", "row-secret", _mints_for("row-secret")),
    Row(
        "STORE",
        "sqlite:///:memory:",
        "sqlite:///:memory:",
        lambda r: isinstance(r.store, SQLiteStore),
    ),
    Row("REQUIRE", "either", "either", lambda r: r.require == "either"),
    Row(
        "TOLERANCE",
        "42.5",
        42.5,
        lambda r: r.verifier is not None and r.verifier.tolerance == 42.5,
    ),
    Row(
        "TOKEN_MAX_AGE",
        "3600",
        3600,
        lambda r: r.signer is not None and r.signer.max_age == 3600,
    ),
    Row(
        "ALLOWED_IPS",
        "10.0.0.0/8, 192.0.2.7",
        ["10.0.0.0/8", "192.0.2.7"],
        lambda r: _networks(r) == ["10.0.0.0/8", "192.0.2.7/32"],
    ),
    Row(
        "TRUSTED_PROXIES",
        "2",
        2,
        lambda r: r.sources is not None and r.sources.trusted_proxies == 2,
    ),
    Row("MAX_BODY", "4096", 4096, lambda r: r.max_body == 4096),
    Row("LEASE", "12.5", 12.5, lambda r: r.lease == 12.5),
    Row("RETRY_ON_ERROR", "yes", True, lambda r: r.retry_on_error is True),
    Row("HANDOFF", "thread", "thread", lambda r: isinstance(r.handoff, ThreadHandoff)),
]
# Settings that only act with an allow-list.
NEEDS = {"TRUSTED_PROXIES": {"ALLOWED_IPS": ["127.0.0.0/8"]}}


def from_env(config: dict[str, Any]) -> Receiver:
    env = {ENV_PREFIX + name: value for name, value in config.items()}
    env = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in env.items()}
    return Receiver.from_env(env)


def from_flask(config: dict[str, Any]) -> Receiver:
    app = Flask(__name__)
    app.config.update({ENV_PREFIX + name: value for name, value in config.items()})
    return SunoHooks(app).receiver_for(app)


def from_django(config: dict[str, Any]) -> Receiver:
    with override_settings(SUNO_HOOKS=config):
        return get_receiver()


SOURCES = {"env": from_env, "flask": from_flask, "django": from_django}


def test_the_table_covers_every_plain_receiver_keyword_once():
    keywords = [s.keyword for s in SETTINGS]
    parameters = set(inspect.signature(Receiver.__init__).parameters) - {"self"}
    assert sorted(keywords) == sorted(parameters - NOT_SETTINGS)
    assert len(set(keywords)) == len(keywords)
    assert [s.name for s in SETTINGS] == [s.keyword.upper() for s in SETTINGS]
    assert [row.name for row in ROWS] == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        assert setting.help and "\n" not in setting.help


def test_the_three_sources_read_the_same_table():
    names = [s.name for s in SETTINGS]
    assert list(RECEIVER_OPTIONS) == names
    assert list(CONFIG_OPTIONS) == [ENV_PREFIX + name for name in names]
    assert set(CONFIG_OPTIONS) <= set(ENV_VARIABLES)
    assert list(RECEIVER_OPTIONS.values()) == list(CONFIG_OPTIONS.values())


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
@pytest.mark.parametrize(
    ("source", "form"),
    [("env", "text"), ("flask", "text"), ("flask", "native"), ("django", "native")],
)
def test_every_setting_reaches_the_receiver_from_every_source(row: Row, source: str, form: str):
    config = {**BASE, **NEEDS.get(row.name, {}), row.name: getattr(row, form)}
    receiver = SOURCES[source](config)
    assert row.reached(receiver), (row.name, source, form)
    without = SOURCES[source]({**BASE, **NEEDS.get(row.name, {})})
    assert not row.reached(without), f"{row.name} is already so without the setting"


@dataclass(frozen=True)
class Bad:
    """A value one setting refuses, as the environment would spell it and as a Python value."""

    name: str
    text: str
    native: Any
    secret: str = ""  # a part of the value that must never appear in the error


BAD = [
    Bad("HMAC_KEYS", " , ", ["whk-live-secret", 3], secret="whk-live-secret"),
    Bad("HMAC_KEYS", ",", ["whk-live-secret", " "], secret="whk-live-secret"),
    Bad("SECRET_KEY", "   ", 1234567890),
    Bad("STORE", "redis-pw-hunter2", "redis-pw-hunter2", secret="hunter2"),
    Bad("REQUIRE", "always", "always"),
    Bad("TOLERANCE", "soon", "30"),
    Bad("TOLERANCE", "-1", -1),
    Bad("TOLERANCE", "nan", float("inf")),
    Bad("TOKEN_MAX_AGE", "12.5", 0),
    Bad("ALLOWED_IPS", "10.0.0.300", "10.0.0.0/8"),
    Bad("TRUSTED_PROXIES", "two", -1),
    Bad("MAX_BODY", "big", True),
    Bad("LEASE", "0", 0),
    Bad("RETRY_ON_ERROR", "sometimes", "true"),
    Bad("HANDOFF", "  ", 42),
]


@pytest.mark.parametrize("bad", BAD, ids=lambda bad: f"{bad.name}={bad.text!r}")
@pytest.mark.parametrize(
    ("source", "form"), [("env", "text"), ("flask", "text"), ("django", "native")]
)
def test_a_bad_value_is_refused_naming_the_setting(bad: Bad, source: str, form: str):
    config = {**BASE, bad.name: getattr(bad, form)}
    with pytest.raises(ConfigurationError) as refused:
        SOURCES[source](config)
    message = str(refused.value)
    named = {
        "env": ENV_PREFIX + bad.name,
        "flask": f"app.config['{ENV_PREFIX}{bad.name}']",
        "django": f"settings.SUNO_HOOKS['{bad.name}']",
    }[source]
    assert message.startswith(named), message
    if bad.secret:
        assert bad.secret not in message


def test_flask_refuses_a_bad_python_value_too():
    with pytest.raises(ConfigurationError, match=r"SUNO_HOOKS_LEASE'\] must be a number"):
        from_flask({**BASE, "LEASE": -3})
    with pytest.raises(
        ConfigurationError, match=r"SUNO_HOOKS_ALLOWED_IPS'\] holds 'x', which is no address"
    ):
        from_flask({**BASE, "ALLOWED_IPS": ["x"]})


@pytest.mark.parametrize("bad", BAD, ids=lambda bad: f"{bad.name}={bad.native!r}")
def test_the_django_checks_refuse_what_the_receiver_refuses(bad: Bad):
    with override_settings(SUNO_HOOKS={**BASE, bad.name: bad.native}):
        found = [m for m in check_settings() if m.is_serious()]
    assert found, bad
    assert all(bad.name in m.msg or bad.name in (m.hint or "") for m in found), found


def test_an_empty_environment_variable_counts_as_unset():
    receiver = Receiver.from_env(
        {**{ENV_PREFIX + k: v for k, v in BASE.items()}, "SUNO_HOOKS_LEASE": ""}
    )
    assert receiver.lease == Receiver(hmac_keys="k", store=MemoryStore()).lease
