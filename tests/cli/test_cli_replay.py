"""`suno-hooks replay` never marks a delivery done without running it: it refuses to start
without --handlers or --to, and a replay that reaches no receiver leaves the delivery failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suno_hooks import Event, task_completed
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus, SQLiteStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.cli_helpers import run_cli


def _failed_store(path: Path) -> str:
    store = SQLiteStore(path)
    receiver = unverified_receiver(store=store)

    def broken(sender: Any, event: Event, **extra: Any) -> None:
        raise RuntimeError("warehouse offline")

    with task_completed.connected_to(broken):
        receiver.handle(InboundRequest("POST", encode(make_callback(task_id="c" * 32))))
    store.close()
    return f"sqlite:///{path}"


def _status(path: Path) -> tuple[DeliveryStatus, int]:
    store = SQLiteStore(path)
    kept = store.get(f"{'c' * 32}:complete")
    store.close()
    assert kept is not None
    return kept.status, kept.attempts


def test_replay_refuses_without_handlers_or_target(tmp_path: Path):
    url = _failed_store(tmp_path / "inbox.db")
    result = run_cli("replay", "--store", url)
    assert result.returncode == 2
    assert "--handlers" in result.stderr and "--to" in result.stderr
    assert "Traceback" not in result.stderr
    assert _status(tmp_path / "inbox.db") == (DeliveryStatus.FAILED, 1)


def test_replay_reaching_no_receiver_leaves_the_delivery_failed(tmp_path: Path):
    url = _failed_store(tmp_path / "inbox.db")
    (tmp_path / "connects_nothing.py").write_text('"""Handlers module that forgot to connect."""\n')
    result = run_cli(
        "replay",
        "--store",
        url,
        "--handlers",
        "connects_nothing",
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed: 503 no_receiver" in result.stdout
    assert result.stdout.splitlines()[-1] == "replayed 0 of 1; 1 failed"
    assert _status(tmp_path / "inbox.db") == (DeliveryStatus.FAILED, 1)


def test_replay_force_runs_the_handlers_of_a_done_delivery_again(tmp_path: Path):
    url = _failed_store(tmp_path / "inbox.db")
    (tmp_path / "records.py").write_text(
        '"""Handlers that write each event to a file."""\n'
        "from pathlib import Path\n"
        "from suno_hooks import task_completed\n\n\n"
        "@task_completed.connect\n"
        "def record(sender, event, **extra):\n"
        "    with Path('seen.txt').open('a') as seen:\n"
        "        seen.write(event.task_id + '\\n')\n"
    )
    key = f"{'c' * 32}:complete"

    def replay(*args: str) -> Any:
        return run_cli(
            "replay",
            "--store",
            url,
            "--handlers",
            "records",
            *args,
            cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path)},
        )

    first = replay()
    assert first.returncode == 0, first.stdout + first.stderr
    assert _status(tmp_path / "inbox.db") == (DeliveryStatus.DONE, 2)

    plain = replay(key)
    assert f"{key}  replayed: 200 duplicate" in plain.stdout, plain.stdout + plain.stderr
    forced = replay("--force", key)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert f"{key}  replayed: 200 received" in forced.stdout
    assert (tmp_path / "seen.txt").read_text().split() == ["c" * 32, "c" * 32]
    assert _status(tmp_path / "inbox.db") == (DeliveryStatus.DONE, 3)

    bare = replay("--force")
    assert bare.returncode == 2 and "give their keys" in bare.stderr
