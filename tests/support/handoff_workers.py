"""Worker processes for the hand-off tests: each started in its own process group with its
output in a log file, awaited until it says it is ready (the test fails, never skips, when it
does not), and stopped or killed with SIGKILL as a whole."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .handoff_ledger import LEDGER_ENV, Ledger

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def worker_env(ledger: Ledger, **extra: str) -> dict[str, str]:
    """The environment of a worker: this checkout importable, the ledger and `extra`."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **{LEDGER_ENV: str(ledger.path)}, **extra)


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, grandchildren...), read from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


class WorkerProcess:
    """One worker command; `ready` is a line its output prints once it takes work."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, ready: str) -> None:
        self.command = command
        self.env = env
        self.log = log
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self, timeout: float = 60) -> WorkerProcess:
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while self.ready not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{self.command[0]} did not start:\n{self.output()[-4000:]}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        """What this run of the worker printed so far."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(self._offset)
            return log.read().decode(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def finish(self, said: str, timeout: float = 60) -> None:
        """Wait until the worker exits or its output says `said` (a burst worker: that its queue
        is empty and it is quitting), then see it gone, killed if it is stuck on its way out;
        fails with its output when it does neither within `timeout` seconds."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while said not in self.output() and self.process.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{self.command[0]} did not finish:\n{self.output()[-4000:]}")
            time.sleep(0.05)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the worker and every process it started (even in a session of its own, as
        RQ's work-horse is), as a power cut would."""
        if self.process is not None:
            for pid in descendants(self.process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._signal(signal.SIGKILL, 10)

    def stop(self) -> None:
        """Ask for a warm shutdown (SIGTERM); SIGKILL whatever is left after 15 s."""
        try:
            self._signal(signal.SIGTERM, 15)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, signum: int, timeout: float) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
        self.process.wait(timeout)
        self.process = None
