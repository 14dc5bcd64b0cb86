"""`suno-hooks sandbox` as a real process against a receiver under uvicorn (one log line per
callback with its answer), and the sandbox guide's fixture example run by pytest as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from suno_hooks.sandbox import SandboxHandle, serve_sandbox

from ..support.sandbox_helpers import (
    BIN,
    REQUESTS,
    ROOT,
    SANDBOX_HMAC,
    ReceiverServer,
    receiver_server,
)
from ..support.services import free_port, running


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverServer]:
    with receiver_server("uvicorn", tmp_path_factory.mktemp("cli-receiver")) as server:
        yield server


def test_the_command_sends_signed_callbacks_and_logs_each_answer(
    receiver: ReceiverServer,
) -> None:
    port = free_port()
    command = [str(BIN / "suno-hooks"), "sandbox", "--port", str(port), "--hmac-key", SANDBOX_HMAC]
    command += ["--scenario", "duplicate"]
    url = f"http://127.0.0.1:{port}"
    with running(command, url + "/sandbox/tasks") as process:
        handle = SandboxHandle(url)
        path, body = REQUESTS["generate"]
        task_id = handle.create(path, body | {"callBackUrl": receiver.callback_url("generate")})
        task = handle.wait(task_id)
        handle.close()
    output = process.stdout.read() if process.stdout else ""
    assert [a["status"] for a in task["attempts"]] == [200, 200, 200, 200]
    lines = [line for line in output.splitlines() if f"callback {task_id}" in line]
    assert len(lines) == 4, output
    assert re.search(rf"{task_id} generate text try 1/3 -> 200 .*received", lines[0])
    assert "[duplicate]" in lines[3] and "duplicate" in lines[3].split("->")[1]
    assert "suno-hooks sandbox at" in output and "signed" in output
    assert "HTTP Request" not in output  # one line per attempt, not two


def test_an_unknown_scenario_is_a_usage_error() -> None:
    result = subprocess.run(
        [str(BIN / "suno-hooks"), "sandbox", "--scenario", "explode"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Unknown sandbox scenario" in result.stderr


def test_serve_sandbox_stops_its_server_on_exit() -> None:
    with serve_sandbox() as handle:
        assert handle.tasks() == []
        url = handle.url
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/sandbox/tasks", timeout=2)


def _guide_test() -> str:
    text = (ROOT / "docs" / "guides" / "sandbox.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    (block,) = [b for b in blocks if "def test_" in b and "suno_sandbox" in b]
    return block


def test_the_guide_fixture_example_passes_under_pytest(tmp_path: Path) -> None:
    stopped_check = (
        "\n\nSEEN = []\n\n\n"
        "def test_remember_the_url(suno_sandbox):\n"
        "    SEEN.append(suno_sandbox.url)\n\n\n"
        "def test_the_fixture_stopped_after_the_test():\n"
        "    import httpx, pytest\n"
        "    with pytest.raises(httpx.TransportError):\n"
        "        httpx.get(SEEN[0] + '/sandbox/tasks', timeout=2)\n"
    )
    (tmp_path / "test_guide_sandbox.py").write_text(_guide_test() + stopped_check)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
        },
        timeout=120,
    )
    assert "3 passed" in result.stdout, result.stdout + result.stderr
