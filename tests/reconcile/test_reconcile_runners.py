"""The reconciler's runners: `suno-hooks reconcile`, `suno-hooks tasks`, `suno-hooks serve
--reconcile` and `manage.py suno_hooks reconcile|tasks`, against the sandbox over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.core.management import call_command
from django.test import override_settings

from suno_hooks import Receiver
from suno_hooks.cli import cli
from suno_hooks.client import SunoClient
from suno_hooks.contrib.django import conf
from suno_hooks.sandbox import SandboxHandle
from suno_hooks.stores import SQLiteStore, TaskState

from ..support.sandbox_rig import API_KEY, CREATES, SECRET, Rig, make_rig, rig_receiver, rig_timing
from ..support.services import free_port

__all__ = ["make_rig", "rig_timing"]

BIN = Path(sys.executable).parent


def dropped_wav(rig: Rig, receiver: Receiver, callback_base: str) -> str:
    """A WAV task whose only callback the sandbox drops, expected by `receiver`'s store."""
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    control.set_scenarios(["drop"], next_only=True)
    client = SunoClient(
        API_KEY,
        base_url=rig.sandbox_url,
        receiver=receiver,
        callback_base=callback_base,
    )
    with client:
        task_id = client.create("wav", **CREATES["wav"]).task_id
    control.wait(task_id)
    control.close()
    return task_id


@pytest.fixture
def rig(make_rig: Any, tmp_path: Path) -> Rig:
    built: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    return built


def test_cli_reconcile_once_then_tasks(rig: Rig, tmp_path: Path):
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    receiver = rig_receiver(store_url)
    task_id = dropped_wav(rig, receiver, rig.callback_url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["tasks", "--store", store_url, "--state", "overdue", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["task_id"] for line in listed.output.splitlines()] == [task_id]
    args = ["reconcile", "--once", "--store", store_url, "--after", "0"]
    args += ["--base-url", rig.sandbox_url]
    result = runner.invoke(cli, args, env={"SUNO_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    assert "polled=1 delivered=1" in result.output and API_KEY not in result.output
    delivery = receiver.store.get(f"{task_id}:complete")
    assert delivery is not None and delivery.source == "poll"
    table = runner.invoke(cli, ["tasks", "--store", store_url])
    assert table.exit_code == 0 and "settled" in table.output and task_id in table.output
    assert "poll" in table.output
    assert runner.invoke(cli, ["tasks", "--store", store_url, "--state", "lost"]).output == (
        "No expected tasks.\n"
    )


def test_cli_reconcile_needs_an_api_key(tmp_path: Path):
    result = CliRunner().invoke(
        cli, ["reconcile", "--once", "--store", f"sqlite:///{tmp_path / 'x.db'}"], env={}
    )
    assert result.exit_code == 2 and "SUNO_API_KEY" in result.output


@pytest.mark.parametrize("given", ["--base-url", "SUNO_API_BASE_URL"])
def test_serve_reconcile_recovers_a_dropped_callback(rig: Rig, tmp_path: Path, given: str):
    store_url = f"sqlite:///{tmp_path / 'serve.db'}"
    port = free_port()
    receiver = Receiver(secret_key=SECRET, store=store_url)
    task_id = dropped_wav(rig, receiver, f"http://127.0.0.1:{port}/suno/callback")
    env = {k: v for k, v in os.environ.items() if k != "SUNO_API_BASE_URL"}
    env["SUNO_API_KEY"] = API_KEY
    command = [str(BIN / "suno-hooks"), "serve", "--reconcile", "--port", str(port)]
    command += ["--store", store_url, "--secret-key", SECRET, "--reconcile-after", "0"]
    if given == "--base-url":
        command += ["--base-url", rig.sandbox_url]
    else:
        env["SUNO_API_BASE_URL"] = rig.sandbox_url
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "reconcile: claimed=" in line:
                assert "delivered=1" in line, line
                break
        else:
            pytest.fail("serve --reconcile never reported a pass")
    finally:
        process.terminate()
        process.wait(15)
    task = receiver.store.get_task(task_id)  # type: ignore[attr-defined]
    assert (task.state, task.settled_by) == (TaskState.SETTLED, "poll")


@pytest.mark.django_db(transaction=True)
def test_manage_py_reconcile_and_tasks(rig: Rig):
    settings = {"STORE": "django://", "API_KEY": API_KEY, "API_BASE_URL": rig.sandbox_url}
    with override_settings(SUNO_HOOKS=settings):
        receiver = conf.get_receiver()
        task_id = dropped_wav(rig, receiver, "https://app.example/suno/callback")
        out = StringIO()
        call_command("suno_hooks", "reconcile", "--once", "--after", "0", stdout=out)
        assert "polled=1 delivered=1" in out.getvalue()
        listed = StringIO()
        call_command("suno_hooks", "tasks", "--json", stdout=listed)
    (task,) = json.loads(listed.getvalue())
    assert (task["task_id"], task["state"], task["settled_by"]) == (task_id, "settled", "poll")
