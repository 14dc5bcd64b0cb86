"""`suno-hooks keep`: copy the media of the completed deliveries in the inbox to an archive."""

from __future__ import annotations

import re
import sys
import time

import click

from ..media import KIE_MEDIA_HOSTS
from ..stores.base import RecordsKept
from ..stores.redaction import redacted_text, redacted_url
from .options import inbox_here, needs, offline_receiver, store_option

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in `text`: a number followed by s, m, h, d or w (`14d`, `36h`); a UsageError
    otherwise."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise click.BadParameter(f"{text!r} is not a duration such as 14d, 36h or 90m")
    return float(found[1]) * _UNITS[found[2]]


@click.command()
@store_option
@click.option(
    "--target",
    default="music",
    show_default=True,
    help="Where to keep the files: a directory, file://, s3://, gs:// or az:// URL.",
)
@click.option("--since", default="14d", show_default=True, help="Only deliveries this recent.")
@click.option("--missing", is_flag=True, help="Only deliveries with nothing kept yet.")
@click.option(
    "--allow-host",
    "hosts",
    multiple=True,
    help="Also fetch from this host (repeatable; Kie's media hosts always).",
)
@click.option(
    "--allow-local",
    "local",
    multiple=True,
    help="Allow plain http and private addresses for this host, such as the sandbox (repeatable).",
)
def keep(
    store: str,
    target: str,
    since: str,
    missing: bool,
    hosts: tuple[str, ...],
    local: tuple[str, ...],
) -> None:
    """Keep the files of the completed deliveries in the inbox (Kie deletes them after 14 days)
    and record them with each delivery; exits 1 when a file could not be kept.

    \b
    Examples:
      suno-hooks keep --target music
      suno-hooks keep --missing --since 3d --target s3://bucket/suno
    """
    cutoff = time.time() - parse_duration(since)
    inbox_here(store)
    with needs("media"):
        from ..media._backfill import Backfill, deliveries_to_keep
        from ..media.archive import MediaArchive
    try:
        archive = MediaArchive(
            target,
            allowed_hosts=[*KIE_MEDIA_HOSTS, *hosts, *local],
            allow_http=local,
            allow_private=local,
        )
    except (ValueError, ImportError) as exc:  # an unknown scheme, a missing obstore extra
        raise click.UsageError(f"--target: {exc}") from None
    inbox = offline_receiver(store).store
    if not isinstance(inbox, RecordsKept):
        raise click.UsageError(f"the store {redacted_url(store)} cannot record kept media")
    try:
        todo = list(deliveries_to_keep(inbox, since=cutoff, missing=missing))
        backfill = Backfill(archive, inbox)
        hidden = not sys.stderr.isatty()
        with click.progressbar(todo, label="keeping", file=sys.stderr, hidden=hidden) as bar:
            for delivery in bar:
                backfill.keep(delivery)
    except Exception as exc:
        raise click.ClickException(
            f"cannot work on the store {redacted_url(store)}: {redacted_text(str(exc), store)}"
        ) from None
    finally:
        archive.close()
    for name, reason in backfill.failed.items():
        click.echo(f"failed: {name}: {reason}", err=True)
    click.echo(
        f"{backfill.deliveries} deliveries: {backfill.kept} kept, {backfill.already} already kept, "
        f"{len(backfill.failed)} failed"
    )
    if backfill.failed:
        sys.exit(1)
