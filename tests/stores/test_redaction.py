"""No log line, repr or error shows a store's password, token or key, whatever form its URL
takes: userinfo, query parameters, a libpq conninfo string, Redis' `:password@`, percent-encoded."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks import Receiver
from suno_hooks.errors import ConfigurationError
from suno_hooks.stores import PostgresStore, Store, store_from_url
from suno_hooks.stores.redaction import MASK, redacted_text, redacted_url
from suno_hooks.testing import make_callback

from ..support.postgres import PostgresServer
from ..support.services import RedisServer

PASSWORD = "Pa55-w0rd/with@odd?chars& spaces"
ENCODED = quote(PASSWORD, safe="")


def conninfo_quoted(password: str) -> str:
    escaped = password.replace("\\", "\\\\").replace("'", "\\'")
    return f"host=db.internal port=5432 user=app password='{escaped}' dbname=suno"


URL_FORMS: dict[str, Callable[[str], str]] = {
    "userinfo": lambda pw: f"postgresql://app:{quote(pw, safe='')}@db.internal:5432/suno",
    "redis-userinfo": lambda pw: f"redis://:{quote(pw, safe='')}@cache.internal:6379/0",
    "redis-user-and-password": lambda pw: f"rediss://default:{quote(pw, safe='')}@cache:6380/1",
    "query-password": lambda pw: f"redis://cache:6379/0?prefix=a:&password={quote(pw, safe='')}",
    "query-PASSWD": lambda pw: f"postgresql://db/suno?sslmode=require&PASSWD={quote(pw, safe='')}",
    "query-sslpassword": lambda pw: f"postgresql://db/suno?sslpassword={quote(pw, safe='')}",
    "query-api_key": lambda pw: f"redis://cache/0?api_key={quote(pw, safe='')}&prefix=x",
    "query-access_key": lambda pw: f"redis://cache/0?access_key={quote(pw, safe='')}",
    "query-token": lambda pw: f"redis://cache/0?Token={quote(pw, safe='')}",
    "query-secret-semicolon": lambda pw: f"redis://cache/0?x=1;secret={quote(pw, safe='')}",
    "query-encoded-name": lambda pw: f"postgresql://db/suno?pass%77ord={quote(pw, safe='')}",
    "conninfo-quoted": conninfo_quoted,
    "conninfo-spaced": lambda pw: f"host=db password = {quote(pw, safe='')} user=app",
}


@pytest.mark.parametrize("form", sorted(URL_FORMS))
def test_every_form_of_the_password_is_masked(form: str):
    url = URL_FORMS[form](PASSWORD)
    shown = redacted_url(url)
    assert MASK in shown
    for leaked in (PASSWORD, ENCODED, "w0rd", "spaces"):
        assert leaked not in shown, (form, shown)


def test_what_is_not_secret_stays_readable():
    url = "postgresql://app:pw@db.internal:5432/suno?sslmode=require&password=x&application_name=y"
    assert redacted_url(url) == (
        "postgresql://app:***@db.internal:5432/suno?sslmode=require&password=***&application_name=y"
    )
    assert redacted_url("sqlite:///var/lib/suno.db?retention=86400") == (
        "sqlite:///var/lib/suno.db?retention=86400"
    )
    assert (
        redacted_url("redis://cache:6379/0?prefix=myapp:") == "redis://cache:6379/0?prefix=myapp:"
    )
    assert redacted_url("host=db user=app dbname=suno") == "host=db user=app dbname=suno"


@given(password=st.text(min_size=1), form=st.sampled_from(sorted(URL_FORMS)))
def test_the_shown_url_does_not_depend_on_the_password(password: str, form: str):
    build = URL_FORMS[form]
    shown = redacted_url(build(password))
    assert shown == redacted_url(build("x"))  # nothing of the password is left to show
    if len(password) >= 3 and password not in build(""):
        assert password not in shown
        assert quote(password, safe="") not in shown


@given(password=st.text(min_size=3))
def test_an_echoed_password_is_masked_in_error_text(password: str):
    url = f"postgresql://app:{quote(password, safe='')}@db/suno"
    message = f"invalid percent-encoded token: {quote(password, safe='')!r} ({password})"
    scrubbed = redacted_text(message, url)
    assert password not in scrubbed
    assert quote(password, safe="") not in scrubbed


# -- the stores, their reprs, their errors and their logs -----------------------------------------


def assert_hidden(text: str) -> None:
    for leaked in (PASSWORD, ENCODED, "w0rd"):
        assert leaked not in text, text


def exercise(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """Build a receiver over `store`, deliver one callback, and check every trace of it."""
    receiver = Receiver(hmac_keys=["k"], store=store)
    outcome = receiver.deliver(make_callback())
    assert outcome.status == 200, outcome.body
    for text in (repr(store), repr(receiver), caplog.text):
        assert_hidden(text)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog
    assert_hidden(caplog.text)


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of its own that asks for the password."""
    server = RedisServer(tmp_path / "redis", persistent=False).start()
    redis.Redis.from_url(server.url).config_set("requirepass", PASSWORD)
    yield server
    server.stop()


@pytest.mark.parametrize("form", ["userinfo", "user-and-password", "query"])
def test_a_redis_store_never_shows_its_password(
    form: str, locked_redis: RedisServer, debug_logs: pytest.LogCaptureFixture
):
    where = f"127.0.0.1:{locked_redis.port}/0"
    url = {
        "userinfo": f"redis://:{ENCODED}@{where}",
        "user-and-password": f"redis://default:{ENCODED}@{where}",
        "query": f"redis://{where}?password={ENCODED}&prefix=r:",
    }[form]
    exercise(store_from_url(url), debug_logs)
    with pytest.raises(ConfigurationError) as refused:
        store_from_url(f"{url}{'&' if '?' in url else '?'}no_such_option=1")
    assert_hidden(str(refused.value))


def test_a_postgres_store_never_shows_its_password(
    postgres_server: PostgresServer, debug_logs: pytest.LogCaptureFixture
):
    server = postgres_server  # trust authentication: any password is accepted
    where = f"{server.host}:{server.port}/{server.name}"
    forms = [
        f"postgresql://{server.user}:{ENCODED}@{where}",
        f"postgresql://{server.user}@{where}?password={ENCODED}",
        f"postgresql://{server.user}@{where}?sslpassword={ENCODED}&sslmode=disable",
        f"host={server.host} port={server.port} user={server.user} password='{PASSWORD}'",
    ]
    for url in forms:
        store = PostgresStore(url)
        try:
            assert MASK in repr(store), repr(store)
            exercise(store, debug_logs)
        finally:
            store.close()
    for bad in (
        f"postgresql://{server.user}:{ENCODED}@{where}?no_such_option=1",
        f"host={server.host} password='{PASSWORD}' no_such_option=1",
        f"host={server.host} password='{PASSWORD}",
    ):
        with pytest.raises(ConfigurationError) as refused:
            PostgresStore(bad)
        assert_hidden(str(refused.value))


@pytest.mark.parametrize(
    "url",
    [
        f"memory://?password={ENCODED}",
        f"sqlite:///suno.db?password={ENCODED}",
        f"sqlite://app:{ENCODED}@host/suno.db",
        f"mysql://app:{ENCODED}@db/suno",
        f"host=db password='{PASSWORD}'",
        f"django://?password={ENCODED}",
    ],
)
def test_store_url_errors_never_show_the_password(url: str):
    with pytest.raises(ConfigurationError) as refused:
        store_from_url(url)
    assert_hidden(str(refused.value))


@pytest.mark.django_db
def test_the_django_store_and_its_check_never_show_a_password(
    tmp_path: Path, debug_logs: pytest.LogCaptureFixture
):
    from django.test import override_settings

    from suno_hooks.contrib.django.checks import check_settings

    exercise(store_from_url("django://"), debug_logs)
    with override_settings(SUNO_HOOKS={"STORE": f"redis//:{ENCODED}@cache/0"}):
        messages = check_settings()
    assert messages
    for message in messages:
        assert_hidden(f"{message.msg} {message.hint}")


def test_the_memory_and_sqlite_stores_never_show_a_password(
    tmp_path: Path, debug_logs: pytest.LogCaptureFixture
):
    exercise(store_from_url("memory://"), debug_logs)
    exercise(store_from_url(f"sqlite:///{tmp_path}/suno.db"), debug_logs)


# -- the command line ---------------------------------------------------------------------------


def test_serve_logs_the_store_without_its_password(
    locked_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
):
    import uvicorn

    from suno_hooks.cli import cli

    def run(self: Any, sockets: list[Any]) -> None:
        for listening in sockets:
            listening.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    url = f"redis://:{ENCODED}@127.0.0.1:{locked_redis.port}/0?prefix=serve:"
    result = CliRunner().invoke(
        cli,
        ["serve", "--port", "0", "--store", url, "--hmac-key", "k", "--no-inbox"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "suno-hooks receiving at" in debug_logs.text
    assert f"redis://:{MASK}@127.0.0.1" in debug_logs.text
    assert_hidden(result.output)


def test_reconcile_logs_the_store_without_its_password(
    locked_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
):
    from suno_hooks.cli import cli

    class Client:
        def close(self) -> None:
            """The command closes its client when it stops."""

    class Stopping:
        every = 30.0
        client = Client()

        def run_once(self) -> Any:
            raise KeyboardInterrupt

    tasks_module = importlib.import_module("suno_hooks.cli.tasks")
    monkeypatch.setattr(tasks_module, "make_reconciler", lambda *a, **k: Stopping())
    url = f"redis://127.0.0.1:{locked_redis.port}/0?password={ENCODED}"
    result = CliRunner().invoke(cli, ["reconcile", "--store", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "reconciling redis://127.0.0.1" in debug_logs.text
    assert_hidden(result.output)


def test_events_errors_never_show_the_password(tmp_path: Path):
    from suno_hooks.cli import cli

    url = f"sqlite:///{tmp_path}/missing/suno.db?password={ENCODED}"
    result = CliRunner().invoke(cli, ["events", "--store", url])
    assert result.exit_code != 0
    assert_hidden(result.output)


def test_send_errors_never_show_the_callback_url_token():
    from suno_hooks.cli import cli

    token = "eyJ0YXNrIjoiY2FsbGJhY2sifQ.signed-capability"
    url = f"http://127.0.0.1:9/suno/callback?token={token}"
    result = CliRunner().invoke(cli, ["send", url, "--hmac-key", "k"])
    assert result.exit_code != 0
    assert "cannot reach http://127.0.0.1:9/suno/callback?token=***" in result.output
    assert token not in result.output
