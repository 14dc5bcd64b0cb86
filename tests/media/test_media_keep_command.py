"""`suno-hooks keep` over real HTTP: tasks settled at the sandbox with nothing kept, then the
command run as a program copies their files from the sandbox and records them in the inbox."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from suno_hooks.cli.keep import parse_duration

from ..support.cli_helpers import run_cli
from ..support.media_helpers import rig, settled_event
from ..support.sandbox_rig import Rig, make_rig, rig_timing

__all__ = ["make_rig", "rig", "rig_timing"]


def keep(tmp_path: Path, *args: str) -> Any:
    store = f"sqlite:///{tmp_path / 'rig.db'}"
    target = str(tmp_path / "kept")
    return run_cli(
        "keep", "--store", store, "--target", target, "--allow-local", "127.0.0.1", *args
    )


def test_keep_copies_what_the_inbox_holds_once_and_records_it(rig: Rig, tmp_path: Path) -> None:
    song = settled_event(rig, "generate")
    wav = settled_event(rig, "wav")
    first = keep(tmp_path)
    assert first.returncode == 0, first.stderr
    files = len(song.tracks) * 2 + 1
    assert first.stdout.strip().endswith(f"{files} kept, 0 already kept, 0 failed")
    assert "keeping" not in first.stderr  # no progress bar without a terminal
    requests = dict(rig.sandbox.media_requests)
    assert sum(requests.values()) == files
    for event in (song, wav):
        delivery = rig.receiver.store.get(event.dedupe_key)
        assert delivery is not None and delivery.kept
        for record in delivery.kept:
            assert Path(record.location).is_file()
            assert Path(record.location).is_relative_to(tmp_path / "kept")
    again = keep(tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith(f"0 kept, {files} already kept, 0 failed")
    missing = keep(tmp_path, "--missing")
    assert missing.stdout.strip() == "0 deliveries: 0 kept, 0 already kept, 0 failed"
    assert dict(rig.sandbox.media_requests) == requests  # nothing fetched twice
    listed = run_cli("events", "--store", f"sqlite:///{tmp_path / 'rig.db'}", "--json")
    documents = [json.loads(line) for line in listed.stdout.splitlines()]
    assert all(document["kept"] for document in documents if document["stage"] == "complete")


def test_keep_reports_a_file_it_cannot_keep_and_exits_1(rig: Rig, tmp_path: Path) -> None:
    video = settled_event(rig, "video", sandbox=["media:expired"])
    failed = keep(tmp_path)
    assert failed.returncode == 1
    assert f"failed: {video.task_id}/complete/video.mp4" in failed.stderr
    assert failed.stdout.strip().endswith("0 kept, 0 already kept, 1 failed")


def test_keep_takes_only_the_recent_deliveries_and_refuses_a_bad_duration(
    rig: Rig, tmp_path: Path
) -> None:
    settled_event(rig, "wav")
    assert keep(tmp_path, "--since", "0s").stdout.strip().startswith("0 deliveries")
    bad = keep(tmp_path, "--since", "two weeks")
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    assert parse_duration("14d") == 14 * 86400 and parse_duration(" 90M ") == 5400
    assert rig.sandbox.media_requests == {}


def test_keep_shows_a_progress_bar_on_a_terminal(rig: Rig, tmp_path: Path) -> None:
    settled_event(rig, "wav")
    leader, follower = pty.openpty()
    store = f"sqlite:///{tmp_path / 'rig.db'}"
    command = [sys.executable, "-m", "suno_hooks.cli", "keep", "--store", store]
    command += ["--target", str(tmp_path / "kept"), "--allow-local", "127.0.0.1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, text=True) as run:
        os.close(follower)
        out, _ = run.communicate(timeout=60)
    shown = b""
    with contextlib.suppress(OSError):  # the terminal is closed once the program ended
        while chunk := os.read(leader, 4096):
            shown += chunk
    os.close(leader)
    assert run.returncode == 0 and out.strip().endswith("1 kept, 0 already kept, 0 failed")
    assert b"keeping" in shown and b"100%" in shown
