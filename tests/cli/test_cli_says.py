"""The `suno-hooks` command says what it means, tried as a new user would: run for real as a
subprocess (`python -m suno_hooks.cli`), each message asserted as printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from suno_hooks import Event, task_completed
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import ExpectedTask, SQLiteStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.cli_helpers import ROOT, run_cli, serving
from ..support.services import free_port

KEY = "whk_cli_says_key"
TASK = "d" * 32
NO_INBOX = "Error: no inbox here; pass --store URL (or set $SUNO_HOOKS_STORE): there is no "
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def last_line(text: str) -> str:
    """The last non-empty line of a command's output."""
    return text.strip().splitlines()[-1]


def failed_inbox(path: Path) -> str:
    """A SQLite inbox holding one failed delivery (`TASK:complete`); its store URL."""
    store = SQLiteStore(path)
    receiver = unverified_receiver(store=store)

    def broken(sender: Any, event: Event, **extra: Any) -> None:
        raise RuntimeError("warehouse offline")

    with task_completed.connected_to(broken):
        receiver.handle(InboundRequest("POST", encode(make_callback(task_id=TASK))))
    store.close()
    return f"sqlite:///{path}"


def test_events_kind_names_the_known_kinds():
    result = run_cli("events", "--kind", "musc", "--store", "memory://")
    assert result.returncode == 2
    assert last_line(result.stderr) == (
        "Error: Invalid value for '--kind': 'musc' is not one of 'music', 'lyrics', 'wav', "
        "'stems', 'midi', 'video', 'cover_image', 'recovery', 'voice', 'unknown'."
    )


@pytest.mark.parametrize(
    "args",
    [
        ("events",),
        ("events", "--json"),
        ("tasks",),
        ("replay", "--handlers", "json"),
        ("reconcile", "--once", "--api-key", "k"),
    ],
)
def test_a_folder_without_an_inbox_says_so_and_creates_none(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("SUNO_HOOKS_STORE", raising=False)
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert last_line(result.stderr) == f"{NO_INBOX}suno-hooks.db in {tmp_path}."
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_check_on_a_wrong_path_asks_about_the_path_instead_of_dumping_the_page():
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": KEY}) as (url, _):
        wrong = url.replace("/suno/callback", "/suno/calback")
        checked = run_cli("check", wrong, "--hmac-key", KEY)
        skipped = run_cli("check", wrong, "--hmac-key", KEY, "--no-delivery")
        root = run_cli("check", url.replace("/suno/callback", "/"), "--no-delivery")
    assert checked.returncode == 1
    assert checked.stdout.splitlines()[-1] == (
        "FAIL  404: is the path right? Nothing answers POST at /suno/calback on this host."
    )
    assert skipped.returncode == 1
    assert skipped.stdout.splitlines() == [
        "warn  plain HTTP: Suno recommends HTTPS for callback URLs",
        "skip  valid signed sample (--no-delivery)",
        "FAIL  404: is the path right? Nothing answers POST at /suno/calback on this host.",
    ]
    assert root.returncode == 1
    assert root.stdout.splitlines()[-1] == (
        "FAIL  405: is the path right? / on this host does not take POST."
    )
    for result in (checked, skipped, root):
        assert "<html" not in result.stdout.lower()


def test_url_refuses_an_unknown_feature_naming_the_known_ones():
    result = run_cli(
        "url", "https://x.test/cb", "--feature", "replace_sectoin", "--secret-key", "s"
    )
    assert result.returncode == 2
    assert last_line(result.stderr) == (
        "Error: unknown --feature 'replace_sectoin': use one of add_instrumental, add_vocals, "
        "cover_image, extend, generate, lyrics, mashup, midi, mp4, music, recovery, "
        "replace_section, separate_vocal, sounds, split_stem, stems, upload_cover, "
        "upload_extend, video, vocal_removal, voice, voice_generate, voice_regenerate, "
        "voice_validate, wav."
    )
    spelled = run_cli(
        "url", "https://x.test/cb", "--feature", "replace-section", "--secret-key", "s"
    )
    assert spelled.returncode == 0, spelled.stderr


def test_replay_imports_the_handlers_before_looking_for_work(tmp_path: Path):
    (tmp_path / "broken_handlers.py").write_text("import a_module_that_is_not_installed\n")
    result = run_cli(
        "replay",
        "--store",
        "memory://",
        "--handlers",
        "broken_handlers",
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 2
    assert last_line(result.stderr) == (
        "Error: cannot import handlers module 'broken_handlers': No module named "
        "'a_module_that_is_not_installed'"
    )
    assert "nothing to replay" not in result.stdout


def test_replay_to_reports_a_delivery_that_still_fails_as_failed(tmp_path: Path):
    store = failed_inbox(tmp_path / "inbox.db")
    (tmp_path / "down_handlers.py").write_text(
        "from suno_hooks import task_completed\n"
        "@task_completed.connect\n"
        "def fail(sender, event, **extra):\n    raise RuntimeError('still down')\n"
    )
    env = {"SUNO_HOOKS_HMAC_KEYS": KEY}
    with serving("--store", store, "--handlers", "down_handlers", env=env, cwd=tmp_path) as (
        url,
        _,
    ):
        result = run_cli("replay", "--store", store, "--to", url, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"{TASK}:complete  failed again: fail: RuntimeError: still down",
        "re-posted 0 of 1; 1 failed",
    ]


def test_replay_to_a_target_that_refuses_reports_it_failed(tmp_path: Path):
    store = failed_inbox(tmp_path / "inbox.db")
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": KEY}) as (url, _):
        result = run_cli("replay", "--store", store, "--to", url, "--hmac-key", "not-" + KEY)
    assert result.returncode == 1, result.stdout + result.stderr
    [line, summary] = result.stdout.splitlines()
    assert line.startswith(f"{TASK}:complete  failed: 401 ") and summary == (
        "re-posted 0 of 1; 1 failed"
    )


def test_tasks_json_and_events_json_print_the_same_shape(tmp_path: Path):
    path = tmp_path / "inbox.db"
    store = SQLiteStore(path)
    receiver = unverified_receiver(store=store)
    assert receiver.handle(InboundRequest("POST", encode(make_callback(task_id=TASK)))).ok
    store.expect(ExpectedTask.submitted("e" * 32, "generate", context={"user": 42}))
    store.close()
    url = f"sqlite:///{path}"
    for command in ("events", "tasks"):
        result = run_cli(command, "--store", url, "--json")
        assert result.returncode == 0, result.stderr
        [line] = result.stdout.splitlines()
        document = json.loads(line)
        assert isinstance(document, dict), (command, line)
        times = {name: value for name, value in document.items() if name.endswith("_at")}
        assert times and all(ISO.match(value) for value in times.values()), (command, times)
    assert document["task_id"] == "e" * 32 and document["context"] == {"user": 42}
    assert set(times) == {"submitted_at", "next_poll_at", "updated_at"}


def test_reconcile_says_no_answer_and_never_warns_about_verification(tmp_path: Path):
    path = tmp_path / "inbox.db"
    store = SQLiteStore(path)
    store.expect(ExpectedTask.submitted(TASK, "generate", now=1_700_000_000.0))
    store.close()
    closed = f"http://127.0.0.1:{free_port()}"
    args = ["reconcile", "--once", "--store", f"sqlite:///{path}", "--after", "0"]
    result = run_cli(
        *args,
        "--base-url",
        closed,
        env={"SUNO_API_KEY": "k", "PYTHONWARNINGS": "always"},
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "error 0" not in output
    assert f"error: {TASK}: No answer from the Suno API at /api/v1/generate/record-info: " in (
        result.stderr
    )
    for word in ("verif", "require", "InsecureReceiverWarning", "Warning:"):
        assert word not in output, output


def run_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`suno-hooks ARGS` in a process where importing `module` fails as if not installed (a
    module set to None in sys.modules raises ModuleNotFoundError)."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; from suno_hooks.console import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


@pytest.mark.parametrize(
    ("module", "args", "extra", "hint"),
    [
        ("httpx", ["send", "http://127.0.0.1:9/cb", "--hmac-key", KEY], "client", ""),
        ("httpx", ["check", "http://127.0.0.1:9/cb"], "client", ""),
        ("httpx", ["reconcile", "--once", "--api-key", "k", "--store", "memory://"], "client", ""),
        ("httpx", ["replay", "--store", "STORE", "--to", "http://127.0.0.1:9/cb"], "client", ""),
        ("httpx", ["keep", "--store", "memory://"], "media", ""),
        ("starlette", ["sandbox"], "sandbox", ""),
        (
            "jinja2",
            ["serve", "--store", "memory://", "--port", "PORT"],
            "inbox",
            "\n(or pass --no-inbox to serve callbacks only)",
        ),
    ],
)
def test_a_missing_extra_is_named_with_its_install_line(
    module: str, args: list[str], extra: str, hint: str, tmp_path: Path
):
    store = failed_inbox(tmp_path / "inbox.db")
    args = [store if a == "STORE" else str(free_port()) if a == "PORT" else a for a in args]
    result = run_without(module, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.endswith(
        f"Error: suno-hooks {args[0]} needs the {extra} extra ({module} is not installed):\n"
        f'    pip install "suno-hooks[{extra}]"{hint}\n'
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_commands_that_need_no_extra_run_without_it():
    listed = run_without("httpx", "events", "--store", "memory://")
    assert listed.returncode == 0 and listed.stdout == "no deliveries\n", listed.stderr
    minted = run_without("httpx", "url", "https://x.test/cb", "--secret-key", "s")
    assert minted.returncode == 0 and minted.stdout.startswith("https://x.test/cb?token=")


def test_without_click_the_command_names_the_cli_extra():
    result = run_without("click", "events")
    assert result.returncode == 1
    assert result.stderr == (
        "suno-hooks: the command needs the cli extra (click is not installed):\n"
        '    pip install "suno-hooks[cli]"\n'
    )


def listed_commands(text: str) -> set[str]:
    """The command names in the Commands section of `suno-hooks --help`."""
    section = text.split("Commands:", 1)[1]
    return {line.split()[0] for line in section.splitlines() if line.startswith("  ")}


def readme_commands() -> set[str]:
    """The commands the README's CLI table (section "The `suno-hooks` command") lists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- --8<-- [start:cli] -->", 1)[1].split("[end:cli]", 1)[0]
    return set(re.findall(r"^\| `suno-hooks (\w+)", section, re.MULTILINE))


def test_the_readme_table_lists_every_command_and_each_help_has_an_example():
    result = run_cli("--help")
    commands = listed_commands(result.stdout)
    assert {"serve", "events", "tasks", "reconcile", "sandbox"} <= commands
    assert readme_commands() == commands
    for command in sorted(commands):
        shown = run_cli(command, "--help")
        assert shown.returncode == 0 and "Example" in shown.stdout, command
