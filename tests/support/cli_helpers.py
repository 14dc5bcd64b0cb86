"""Run the real `suno-hooks` command as a subprocess, and servers on free loopback ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .services import free_port, running

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `suno-hooks ARGS` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "suno_hooks.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def serving(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`suno-hooks serve ARGS` on a free port; yields the callback URL and the process."""
    port = free_port()
    command = [sys.executable, "-m", "suno_hooks.cli", "serve", "--port", str(port), *args]
    environment = {**os.environ, "PYTHONPATH": str(cwd or ROOT), **(env or {})}
    with running(command, f"http://127.0.0.1:{port}/", env=environment, cwd=cwd or ROOT) as process:
        yield f"http://127.0.0.1:{port}/suno/callback", process
