"""The `suno-hooks` command: serve a receiver, send signed samples, list and replay the inbox."""

from __future__ import annotations

import click

from .inbox import events
from .keep import keep
from .options import check_environment_or_exit
from .replay import replay
from .sandbox import sandbox as sandbox_command
from .sender import check, send
from .serve import serve
from .tasks import reconcile, tasks
from .urls import url

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="suno-hooks")
def cli() -> None:
    """Receive, send, inspect and replay Suno API callbacks.

    Settings come from flags or the environment: SUNO_HOOKS_HMAC_KEYS (comma-separated),
    SUNO_HOOKS_SECRET_KEY, SUNO_HOOKS_STORE and the receiver's other settings (SUNO_HOOKS_LEASE,
    SUNO_HOOKS_TOLERANCE, ...); any other SUNO_HOOKS_* variable is refused.
    """
    check_environment_or_exit()


for command in (serve, send, events, replay, keep, url, check):
    cli.add_command(command)
cli.add_command(sandbox_command)
cli.add_command(reconcile)
cli.add_command(tasks)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="suno-hooks")
