"""The receiver fails closed: without a usable key it is not built unless `require="none"` is
written, which warns; `serve` and the sandbox run unverified on loopback only, and say so; a
mistyped `SUNO_HOOKS_*` variable is refused with the closest known name."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest
from click.testing import CliRunner

import suno_hooks
from suno_hooks import InsecureReceiverWarning, Receiver
from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback

from ..support.cli_helpers import run_cli

UNSIGNED = InboundRequest("POST", encode(make_callback()), {"content-type": "application/json"})


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"hmac_keys": [""]},
        {"hmac_keys": [None]},
        {"hmac_keys": ""},
        {"hmac_keys": ["whk_current", "  "]},
        {"hmac_keys": [b""]},
        {"secret_key": ""},
        {"secret_key": b""},
        {"hmac_keys": [""], "secret_key": "s3cret"},
        {"hmac_keys": ["whk_current"], "secret_key": ""},
        {"hmac_keys": [], "secret_key": None},
    ],
    ids=repr,
)
def test_a_receiver_without_a_usable_key_is_not_built(options: dict[str, Any]):
    with pytest.raises(ConfigurationError):
        Receiver(store=MemoryStore(), **options)


def test_the_message_says_how_to_verify_or_to_opt_out():
    with pytest.raises(ConfigurationError, match=r"hmac_keys .*secret_key.*require='none'"):
        Receiver(store=MemoryStore())
    with pytest.raises(ConfigurationError, match="empty key"):
        Receiver(hmac_keys=[""], store=MemoryStore())
    with pytest.raises(ConfigurationError, match="secret_key is empty"):
        Receiver(secret_key="", store=MemoryStore())


def test_require_none_written_builds_an_open_receiver_and_warns():
    with pytest.warns(InsecureReceiverWarning, match="require='none'") as caught:
        receiver = Receiver(store=MemoryStore(), require="none")
    assert caught[0].filename == __file__  # the warning points at the line that built it
    assert receiver.require == "none"
    assert receiver.handle(UNSIGNED).status == 200
    with pytest.warns(InsecureReceiverWarning):
        Receiver(hmac_keys=["whk_current"], store=MemoryStore(), require="none")


def test_a_verifying_receiver_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Receiver(hmac_keys=["whk_current"], store=MemoryStore()).require == "signature"
        assert Receiver(secret_key="s3cret", store=MemoryStore()).require == "token"
    assert Receiver(hmac_keys=["k"], store=MemoryStore()).handle(UNSIGNED).status == 401


def test_the_warning_is_public_and_a_test_suite_can_make_it_an_error():
    assert issubclass(suno_hooks.InsecureReceiverWarning, Warning)
    assert "InsecureReceiverWarning" in suno_hooks.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureReceiverWarning)
        with pytest.raises(InsecureReceiverWarning):
            Receiver(store=MemoryStore(), require="none")


# -- the environment ---------------------------------------------------------------------------


def test_from_env_refuses_the_singular_hmac_key_and_names_the_plural():
    with pytest.raises(ConfigurationError, match=r"SUNO_HOOKS_HMAC_KEY \(did you mean "):
        Receiver.from_env({"SUNO_HOOKS_HMAC_KEY": "whk_current", "SUNO_HOOKS_STORE": "memory://"})
    with pytest.raises(ConfigurationError, match="did you mean SUNO_HOOKS_HMAC_KEYS"):
        Receiver.from_env({"SUNO_HOOKS_HMAC_KEY": "whk_current", "SUNO_HOOKS_SECRET_KEY": "s"})


def test_from_env_names_every_unknown_variable_with_its_closest_match():
    with pytest.raises(ConfigurationError) as refused:
        Receiver.from_env(
            {"SUNO_HOOKS_HMAC_KEYS": "k", "SUNO_HOOKS_STOR": "memory://", "SUNO_HOOKS_COLOUR": "x"}
        )
    message = str(refused.value)
    assert "SUNO_HOOKS_STOR (did you mean SUNO_HOOKS_STORE?)" in message
    assert "SUNO_HOOKS_COLOUR" in message
    assert "SUNO_HOOKS_HMAC_KEYS" in message


def test_from_env_without_a_key_fails_closed_and_with_one_builds():
    with pytest.raises(ConfigurationError, match="require='none'"):
        Receiver.from_env({"SUNO_HOOKS_STORE": "memory://"})
    built = Receiver.from_env({"SUNO_HOOKS_HMAC_KEYS": "k", "SUNO_HOOKS_INBOX_AUTH": "ops:pw"})
    assert built.require == "signature"
    with pytest.warns(InsecureReceiverWarning):
        Receiver.from_env({"SUNO_HOOKS_REQUIRE": "none", "SUNO_HOOKS_STORE": "memory://"})


# -- serve and the sandbox --------------------------------------------------------------------


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn returns at once: the command runs up to serving, then ends."""
    import uvicorn

    def run(self: Any, sockets: list[Any]) -> None:
        for listening in sockets:
            listening.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    for name in ("SUNO_HOOKS_HMAC_KEYS", "SUNO_HOOKS_SECRET_KEY", "SUNO_HOOKS_REQUIRE"):
        monkeypatch.delenv(name, raising=False)


def test_serve_without_a_key_on_loopback_runs_and_says_it_is_unverified(
    no_server: None, caplog: pytest.LogCaptureFixture
):
    from suno_hooks.cli import cli

    with caplog.at_level(logging.INFO), pytest.warns(InsecureReceiverWarning):
        result = CliRunner().invoke(
            cli,
            ["serve", "--host", "127.0.0.1", "--port", "0", "--store", "memory://"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    [banner] = [r for r in caplog.records if "suno-hooks receiving at" in r.getMessage()]
    assert banner.levelno == logging.WARNING
    assert "require none): UNVERIFIED" in banner.getMessage()
    assert "loopback only" in banner.getMessage()


def test_serve_with_a_key_says_nothing_of_the_kind(
    no_server: None, caplog: pytest.LogCaptureFixture
):
    from suno_hooks.cli import cli

    with caplog.at_level(logging.INFO):
        result = CliRunner().invoke(
            cli,
            ["serve", "--port", "0", "--store", "memory://", "--hmac-key", "whk_current"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    assert "require signature)" in caplog.text
    assert "UNVERIFIED" not in caplog.text


def test_serve_without_a_key_on_an_open_host_refuses_to_start():
    refused = run_cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--store",
        "memory://",
        "--no-inbox",
        env={"SUNO_HOOKS_HMAC_KEYS": "", "SUNO_HOOKS_SECRET_KEY": "", "SUNO_HOOKS_REQUIRE": ""},
    )
    assert refused.returncode == 2
    assert "Refusing to accept unverified callbacks on 0.0.0.0" in refused.stderr
    assert "--hmac-key" in refused.stderr
    explicit = run_cli(
        "serve", "--host", "0.0.0.0", "--store", "memory://", "--no-inbox",
        env={"SUNO_HOOKS_REQUIRE": "none"},
    )  # fmt: skip
    assert explicit.returncode == 2
    assert "Refusing to accept unverified callbacks on 0.0.0.0" in explicit.stderr


def test_serve_refuses_the_singular_hmac_key_variable():
    refused = run_cli(
        "serve", "--store", "memory://", "--no-inbox", env={"SUNO_HOOKS_HMAC_KEY": "whk_current"}
    )
    assert refused.returncode == 2
    assert "SUNO_HOOKS_HMAC_KEY (did you mean SUNO_HOOKS_HMAC_KEYS?)" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_every_command_refuses_an_unknown_variable(no_server: None):
    from suno_hooks.cli import cli

    result = CliRunner().invoke(
        cli, ["events", "--store", "memory://"], env={"SUNO_HOOKS_STROE": "memory://"}
    )
    assert result.exit_code == 2
    assert "SUNO_HOOKS_STROE (did you mean SUNO_HOOKS_STORE?)" in result.output


def test_an_empty_hmac_key_flag_is_refused(no_server: None):
    from suno_hooks.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--store", "memory://", "--hmac-key", ""])
    assert result.exit_code == 2
    assert "--hmac-key is empty" in result.output


def test_the_sandbox_sends_unsigned_callbacks_on_loopback_only(
    no_server: None, caplog: pytest.LogCaptureFixture
):
    from suno_hooks.cli import cli

    refused = CliRunner().invoke(cli, ["sandbox", "--host", "0.0.0.0"])
    assert refused.exit_code == 2
    assert "Refusing to send unsigned callbacks from 0.0.0.0" in refused.output
    with caplog.at_level(logging.INFO):
        local = CliRunner().invoke(cli, ["sandbox", "--host", "127.0.0.1"], catch_exceptions=False)
    assert local.exit_code == 0, local.output
    assert "UNSIGNED: only a receiver with require='none' accepts them" in caplog.text
    signed = CliRunner().invoke(cli, ["sandbox", "--host", "0.0.0.0", "--hmac-key", "whk_demo"])
    assert signed.exit_code == 0, signed.output
