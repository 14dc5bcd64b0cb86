"""`suno-hooks events` and `suno-hooks replay`: read and replay the inbox of a store."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import click
import httpx

from ..receiver import Receiver, replayable
from ..stores import Delivery, DeliveryStatus, Store
from ..stores.delivery_json import write_json_lines
from ..stores.redaction import redacted_text, redacted_url
from .options import (
    hmac_key_option,
    hmac_keys_or_env,
    import_handlers,
    offline_receiver,
    store_option,
)
from .sender import TIMEOUT, check_url, post, signed

STATUSES = [status.value for status in DeliveryStatus]
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
@click.option("--kind", help="Only this family (music, lyrics, wav, stems, …).")
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


@click.command()
@store_option
@click.option("--handlers", help="Module that connects your signal receivers; replays run them.")
@click.option("--to", "target", help="Re-POST the failed deliveries to this URL instead.")
@click.option("--key", "keys", multiple=True, help="Replay this delivery key (task_id:stage).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@hmac_key_option
def replay(
    store: str,
    handlers: str | None,
    target: str | None,
    keys: tuple[str, ...],
    limit: int,
    hmac_keys: tuple[str, ...],
) -> None:
    """Replay failed and abandoned deliveries through your handlers, or re-POST them to a URL.

    One of --handlers or --to is required: with neither, nothing would run the deliveries.

    \b
    Examples:
      suno-hooks replay --handlers myapp.suno_handlers
      suno-hooks replay --to https://api.example.com/suno/callback --hmac-key whk_...
    """
    if handlers is None and target is None:
        raise click.UsageError(
            "give --handlers MODULE (the module that connects your receivers) or --to URL; "
            "without either, a replay would run nothing"
        )
    receiver = inbox_receiver(store)
    try:
        chosen = (
            [d for d in (receiver.store.get(k) for k in keys) if d is not None]
            if keys
            else replayable(receiver.store, limit)
        )
    except Exception as exc:
        raise click.ClickException(
            f"cannot read the store {redacted_url(store)}: {redacted_text(str(exc), store)}"
        ) from None
    missing = [k for k in keys if k not in {d.key for d in chosen}]
    if missing:
        raise click.UsageError(f"no delivery kept for {', '.join(missing)}")
    if not chosen:
        click.echo("nothing to replay")
        return
    results: dict[str, str] = {}
    if target is not None:
        check_url(target)
        sign_with = hmac_keys_or_env(hmac_keys)
        with (
            httpx.Client(timeout=TIMEOUT) as client,
            click.progressbar(chosen, label="re-posting", hidden=len(chosen) < 5) as bar,
        ):
            for delivery in bar:
                headers = signed(delivery.body, sign_with, int(time.time()))
                response = post(client, target, delivery.body, headers)
                results[delivery.key] = f"{response.status_code} {response.text.strip()[:200]}"
    else:
        import_handlers(handlers)
        with click.progressbar(chosen, label="replaying", hidden=len(chosen) < 5) as bar:
            for delivery in bar:
                outcome = receiver.replay(delivery.key)
                after = receiver.store.get(delivery.key)
                if outcome.status == 200 and after is not None and after.status == "failed":
                    results[delivery.key] = f"failed again: {after.error}"
                else:
                    answer = outcome.body.get("status") or outcome.body.get("error")
                    detail = outcome.body.get("detail")
                    results[delivery.key] = f"{outcome.status} {answer}" + (
                        f": {detail}" if detail else ""
                    )
    for key, result in results.items():
        click.echo(f"{key}  {result}")
    ok = sum(1 for result in results.values() if result.startswith("200"))
    click.echo(f"replayed {len(results)}: {ok} ok, {len(results) - ok} failed")
    if ok < len(results):
        raise SystemExit(1)
