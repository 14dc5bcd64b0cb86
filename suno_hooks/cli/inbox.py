"""`suno-hooks events`: list the inbox of a store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, get_args

import click

from ..events import EventKind
from ..receiver import Receiver
from ..stores import Delivery, DeliveryStatus, Store
from ..stores.delivery_json import write_json_lines
from ..stores.redaction import redacted_text, redacted_url
from .options import inbox_here, offline_receiver, store_option

STATUSES = [status.value for status in DeliveryStatus]
KINDS = list(get_args(EventKind))
COUNT_LIMIT = 100_000


def open_store(url: str) -> Store:
    """The store behind a URL, for reading: a SQLite file is opened read-only and must exist
    (it is never created); a bad URL is one clear error."""
    if url.lower().startswith("sqlite:") and ":memory:" not in url:
        url += ("&" if "?" in url else "?") + "read_only=1"
    return inbox_receiver(url).store


def inbox_receiver(url: str) -> Receiver:
    """A receiver over the store at `url` for working on its inbox (nothing arrives through it,
    so nothing is verified)."""
    return offline_receiver(url)


def when(timestamp: float) -> str:
    """A delivery time as local-free UTC text."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def table(rows: list[Delivery]) -> str:
    """A fixed-width table of deliveries for a terminal."""
    header = ("received (UTC)", "status", "kind", "stage", "tries", "task", "error")
    lines = [header] + [
        (
            when(d.received_at),
            d.status.value,
            d.kind,
            d.stage,
            str(d.attempts),
            d.task_id,
            (d.error or "")[:60],
        )
        for d in rows
    ]
    return columns(lines)


def columns(lines: Sequence[tuple[str, ...]]) -> str:
    """Rows of cells as aligned columns (the last one left ragged)."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    ).rstrip()


@click.command()
@store_option
@click.option("--status", type=click.Choice(STATUSES), help="Only deliveries in this state.")
@click.option("--kind", type=click.Choice(KINDS), help="Only this family.")
@click.option("--task", "task_id", help="Only this task id.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line: ISO 8601 times, the body as JSON (as `manage.py suno_hooks "
    "list --json`).",
)
def events(
    store: str, status: str | None, kind: str | None, task_id: str | None, limit: int, as_json: bool
) -> None:
    """List the deliveries kept in the inbox, newest first.

    \b
    Examples:
      suno-hooks events --status failed
      suno-hooks events --task 65e563474bd7b6485dfb229eb92324a8 --json
    """
    filters: dict[str, Any] = {"status": status, "kind": kind, "task_id": task_id}
    inbox_here(store)
    try:
        inbox = open_store(store)
        rows = inbox.deliveries(**filters, limit=limit + 1)
        total = len(rows)
        if total > limit:
            total = len(inbox.deliveries(**filters, limit=COUNT_LIMIT))
            rows = rows[:limit]
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(
            f"cannot read the store {redacted_url(store)}: {redacted_text(str(exc), store)}"
        ) from None
    if as_json:
        write_json_lines(rows, click.echo)
    elif rows:
        click.echo(table(rows))
    else:
        click.echo("no deliveries")
    if total > len(rows):
        more = f"{total}" if total < COUNT_LIMIT else f"at least {COUNT_LIMIT}"
        click.echo(f"showing {len(rows)} of {more} (--limit N for more)", err=as_json)
