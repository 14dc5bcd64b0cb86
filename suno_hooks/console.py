"""The `suno-hooks` console script: runs the CLI, or says how to install it when the core
install lacks the `cli` extra, and stays quiet when its reader goes away (`| head`)."""

from __future__ import annotations

import os
import sys

from .errors import EXTRAS, missing_extra

__all__ = ["main"]


def main() -> None:
    """Run `suno-hooks` with the process's arguments."""
    try:
        from .cli import cli
    except ModuleNotFoundError as exc:
        module = (exc.name or "").partition(".")[0]
        if module not in EXTRAS["cli"]:
            raise
        sys.exit(f"suno-hooks: {missing_extra('cli', module, 'the command')}")
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
