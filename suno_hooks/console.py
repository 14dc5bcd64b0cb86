"""The `suno-hooks` console script: runs the CLI, or says how to install it when the core
install lacks the `cli` extra, and stays quiet when its reader goes away (`| head`)."""

from __future__ import annotations

import os
import sys

__all__ = ["main"]

CLI_MODULES = ("click", "httpx", "uvicorn")


def main() -> None:
    """Run `suno-hooks` with the process's arguments."""
    try:
        from .cli import cli
    except ModuleNotFoundError as exc:
        if exc.name not in CLI_MODULES:
            raise
        sys.exit(
            f"suno-hooks: the command needs the cli extra ({exc.name} is not installed):\n"
            "    pip install 'suno-hooks[cli]'"
        )
    try:
        cli(prog_name="suno-hooks")
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(1)
    finally:
        try:
            if sys.__stdout__ is not None:
                sys.__stdout__.flush()
        except BrokenPipeError:
            _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at the null device so the interpreter's last flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
