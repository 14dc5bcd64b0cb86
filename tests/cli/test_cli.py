"""The `suno-hooks` command, run for real as a subprocess."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from suno_hooks._security.tokens import TokenSigner
from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.cli_helpers import run_cli, serving

KEY = "whk_cli_test_key"
HANDLERS = """
import os
from pathlib import Path
from suno_hooks import task_completed

LOG = Path(os.environ["HANDLER_LOG"])

@task_completed.connect
def record(sender, event, **extra):
    if Path(os.environ["HANDLER_FAIL_FLAG"]).exists():
        raise RuntimeError("warehouse offline")
    with LOG.open("a") as out:
        out.write(event.dedupe_key + "\\n")
"""


def test_every_command_has_help_with_an_example():
    for command in ("serve", "send", "events", "replay", "url", "check"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Example" in result.stdout


def test_url_mints_a_token_carrying_the_context():
    result = run_cli(
        "url",
        "https://api.example.com/suno/callback",
        "--context",
        '{"user": 42}',
        "--feature",
        "replace_section",
        "--secret-key",
        "s3cret",
    )
    assert result.returncode == 0, result.stderr
    minted = result.stdout.strip()
    assert minted.startswith("https://api.example.com/suno/callback?token=")
    claims = TokenSigner("s3cret").read(minted.split("token=", 1)[1])
    assert claims.context == {"user": 42}
    assert claims.feature == "replace_section"


def test_user_mistakes_are_one_line_and_non_zero(tmp_path: Path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    cases = [
        ("url", "https://x.test/cb", "--context", "{oops", "--secret-key", "s"),
        ("url", "https://x.test/cb"),
        ("send", "not-a-url"),
        ("send", "http://127.0.0.1:9/cb"),
        ("send", "http://127.0.0.1:9/cb", "--file", str(bad_json)),
        ("send", "http://127.0.0.1:9/cb", "--kind", "wav", "--stage", "first"),
        ("events", "--store", "nope://x"),
        ("replay", "--store", "memory://", "--key", "missing:complete"),
    ]
    for args in cases:
        result = run_cli(*args, env={"SUNO_HOOKS_SECRET_KEY": ""})
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr + result.stdout, args
        assert result.stderr.strip().splitlines()[-1].startswith("Error"), (args, result.stderr)


def test_serve_send_events_replay(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    log, flag = tmp_path / "handled.log", tmp_path / "fail"
    (tmp_path / "cli_test_handlers.py").write_text(HANDLERS)
    env = {"HANDLER_LOG": str(log), "HANDLER_FAIL_FLAG": str(flag), "SUNO_HOOKS_HMAC_KEYS": KEY}
    flag.touch()
    with serving("--store", store, "--handlers", "cli_test_handlers", env=env, cwd=tmp_path) as (
        url,
        process,
    ):
        sent = run_cli("send", url, "--task-id", "a" * 32, "--repeat", "2", env=env)
        assert sent.returncode == 0, sent.stderr
        answers = [line.split(" ", 1) for line in sent.stdout.splitlines()]
        assert [(code, json.loads(body)) for code, body in answers] == [
            ("200", {"status": "received"}),
            ("200", {"status": "received"}),
        ]
        lyrics = run_cli("send", url, "--kind", "lyrics", "--task-id", "b" * 32, env=env)
        assert lyrics.returncode == 0
        unsigned = httpx.post(url, content=encode(make_callback()))
        assert unsigned.status_code == 401
    output = process.stdout.read() if process.stdout else ""
    assert f"task={'a' * 32} kind=music stage=complete" in output
    assert "200 received" in output and "401 missing_signature" in output

    listed = run_cli("events", "--store", store, "--json", env=env)
    assert listed.stderr == ""
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {(r["task_id"], r["status"]) for r in rows} == {
        ("a" * 32, "failed"),
        ("b" * 32, "failed"),
    }
    assert all("warehouse offline" in r["error"] for r in rows)
    assert {r["task_id"]: r["attempts"] for r in rows} == {"a" * 32: 2, "b" * 32: 1}
    table = run_cli("events", "--store", store, "--kind", "lyrics", env=env)
    assert "b" * 32 in table.stdout and "a" * 32 not in table.stdout

    still_failing = run_cli(
        "replay", "--store", store, "--handlers", "cli_test_handlers", env=env, cwd=tmp_path
    )
    assert still_failing.returncode == 1 and "failed again" in still_failing.stdout
    flag.unlink()
    fixed = run_cli(
        "replay", "--store", store, "--handlers", "cli_test_handlers", env=env, cwd=tmp_path
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "replayed 2 of 2"
    assert sorted(log.read_text().split()) == [f"{'a' * 32}:complete", f"{'b' * 32}:complete"]
    done = run_cli("events", "--store", store, "--status", "failed", env=env)
    assert done.stdout.strip() == "no deliveries"
    with serving("--store", store, "--handlers", "cli_test_handlers", env=env, cwd=tmp_path) as (
        url,
        _,
    ):
        again = run_cli("send", url, "--task-id", "a" * 32, env=env)
        assert json.loads(again.stdout.split(" ", 1)[1]) == {"status": "duplicate"}


def test_replay_to_url_reposts_failed_deliveries(tmp_path: Path):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    (tmp_path / "cli_fail_handlers.py").write_text(
        "from suno_hooks import task_completed\n"
        "@task_completed.connect\n"
        "def fail(sender, event, **extra):\n    raise RuntimeError('down')\n"
    )
    env = {"SUNO_HOOKS_HMAC_KEYS": KEY}
    with serving("--store", source, "--handlers", "cli_fail_handlers", env=env, cwd=tmp_path) as (
        url,
        _,
    ):
        body = encode(make_callback())
        assert httpx.post(url, content=body, headers=sign_headers(body, KEY)).status_code == 200
    (tmp_path / "cli_ok_handlers.py").write_text(
        "from suno_hooks import task_completed\n"
        "@task_completed.connect\n"
        "def keep(sender, event, **extra):\n    pass\n"
    )
    target_store = f"sqlite:///{tmp_path / 'target.db'}"
    handlers = ("--handlers", "cli_ok_handlers")
    with serving("--store", target_store, *handlers, env=env, cwd=tmp_path) as (target, _):
        result = run_cli("replay", "--store", source, "--to", target, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines()[-1] == "re-posted 1 of 1"
    listed = run_cli("events", "--store", target_store, "--json", env=env)
    assert [json.loads(line)["status"] for line in listed.stdout.splitlines()] == ["done"]


def test_check_good_and_broken_endpoints(tmp_path: Path):
    env = {"SUNO_HOOKS_HMAC_KEYS": KEY}
    with serving("--store", "memory://", env=env) as (good, _):
        result = run_cli("check", good, "--hmac-key", KEY)
        assert result.returncode == 0, result.stdout
        assert "ok    valid sample answered 200" in result.stdout
        assert "ok    unsigned sample refused with 401" in result.stdout
        assert "ok    forged sample refused with 401" in result.stdout
        assert "warn  plain HTTP" in result.stdout
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": ""}) as (broken, _):
        result = run_cli("check", broken, "--hmac-key", KEY, env={"SUNO_HOOKS_HMAC_KEYS": ""})
        assert result.returncode == 1
        assert "FAIL  unsigned sample was not refused" in result.stdout
    unreachable = run_cli("check", "http://127.0.0.1:9/suno/callback", "--hmac-key", KEY)
    assert unreachable.returncode != 0 and "cannot reach" in unreachable.stderr


def test_serve_finishes_in_flight_deliveries_on_shutdown(tmp_path: Path):
    (tmp_path / "cli_slow_handlers.py").write_text(
        "import time\nfrom suno_hooks import task_completed\n"
        "@task_completed.connect\n"
        "def slow(sender, event, **extra):\n    time.sleep(1.5)\n"
    )
    answers: list[int] = []
    with serving("--store", "memory://", "--handlers", "cli_slow_handlers", cwd=tmp_path) as (
        url,
        process,
    ):
        body = encode(make_callback())
        sender = threading.Thread(
            target=lambda: answers.append(httpx.post(url, content=body, timeout=10).status_code)
        )
        sender.start()
        time.sleep(0.5)
        process.terminate()
        sender.join()
        process.wait(timeout=15)
    assert answers == [200]
