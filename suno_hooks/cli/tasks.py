"""`suno-hooks reconcile` and `suno-hooks tasks`: poll late tasks, list the expected ones."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import ConfigurationError
from ..receiver import Receiver
from ..reconcile import Reconciler
from ..stores.delivery_json import iso_time
from ..stores.redaction import redacted_url
from ..stores.tasks import TASK_LISTINGS, ExpectedTask, TaskStore
from .inbox import columns, open_store, when
from .options import import_handlers, inbox_here, needs, offline_receiver, store_option

__all__ = ["reconcile", "start_reconciler", "sweep_and_log", "tasks"]

log = logging.getLogger("suno_hooks.reconcile")
F = TypeVar("F", bound=Callable[..., Any])
API_KEY_ENV = "SUNO_API_KEY"
BASE_URL_ENV = "SUNO_API_BASE_URL"
BASE_URL_HELP = (
    f"The Suno API's base URL (a sandbox's, say). Default: ${BASE_URL_ENV}, else "
    "https://api.kie.ai."
)
AFTER_HELP = "First poll of a task this many seconds after its submission."


def make_reconciler(
    receiver: Receiver, api_key: str | None, base_url: str | None, **options: Any
) -> Reconciler:
    """A reconciler over `receiver` with a client of the API at `base_url`; clean errors."""
    with needs("client"):
        from ..client import DEFAULT_BASE_URL, SunoClient

    if not api_key:
        raise click.UsageError(f"Polling needs the Suno API key: --api-key or ${API_KEY_ENV}.")
    client = SunoClient(api_key, base_url=base_url or DEFAULT_BASE_URL)
    try:
        return Reconciler(receiver, client, **options)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None


def sweep_and_log(receiver: Receiver) -> int:
    """With a hand-off, ring again the deliveries left `queued` or abandoned (`Receiver.sweep`)
    and log how many; the number rung (0 without a hand-off)."""
    if receiver.handoff is None:
        return 0
    rung = receiver.sweep()
    if rung:
        failed = sum(1 for sent in rung.values() if not sent)
        log.info("sweep: rang %d queued deliveries again (%d rings failed)", len(rung), failed)
    return len(rung)


def start_reconciler(
    receiver: Receiver,
    *,
    every: float = 30.0,
    after: float = 600.0,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Callable[[], None]:
    """Run a reconciler in a background thread (which also sweeps, when the receiver has a
    hand-off); returns the function that stops it. The key and the API's URL default to
    `SUNO_API_KEY` and `SUNO_API_BASE_URL` (else Kie's API); each task is first polled `after`
    seconds after its submission."""
    reconciler = make_reconciler(
        receiver,
        api_key or os.environ.get(API_KEY_ENV),
        base_url or os.environ.get(BASE_URL_ENV),
        every=every,
        after=after,
    )
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                log.info("reconcile: %s", reconciler.run_once().summary())
            except Exception:
                log.exception("a reconcile run failed")
            try:  # a failed poll must not keep the queued deliveries from being rung
                sweep_and_log(receiver)
            except Exception:
                log.exception("a sweep failed")
            stop.wait(reconciler.every)

    thread = threading.Thread(target=run, name="suno-hooks-reconcile", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(30)

    return halt


@click.command()
@store_option
@click.option("--api-key", envvar=API_KEY_ENV, help=f"Suno API key. Default: ${API_KEY_ENV}.")
@click.option("--base-url", envvar=BASE_URL_ENV, help=BASE_URL_HELP)
@click.option("--once", is_flag=True, help="One pass over the due tasks, then exit.")
@click.option("--every", default=30.0, show_default=True, help="Seconds between passes and polls.")
@click.option("--after", default=600.0, show_default=True, help=AFTER_HELP)
@click.option("--give-up", default=86400.0, show_default=True, help="Report lost after (s).")
@click.option("--handlers", help="Module to import that connects your signal receivers.")
@click.option(
    "--handoff",
    envvar="SUNO_HOOKS_HANDOFF",
    help="The hand-off to ring again for deliveries left queued (the sweeper): 'celery', 'rq', "
    "'django' or a dotted path. Default: $SUNO_HOOKS_HANDOFF.",
)
def reconcile(
    store: str,
    api_key: str | None,
    base_url: str | None,
    once: bool,
    every: float,
    after: float,
    give_up: float,
    handlers: str | None,
    handoff: str | None = None,
) -> None:
    """Poll the expected tasks whose callback is late and dispatch their results; with a
    hand-off, also ring again the deliveries left queued or abandoned (the sweeper).

    \b
    Results reach your signal receivers in this process (import them with --handlers),
    exactly once between the callback and the poll. Example (cron, every minute):
      SUNO_API_KEY=... suno-hooks reconcile --once --handlers myapp.suno_handlers
    """
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(message)s")
    import_handlers(handlers)
    receiver = offline_receiver(inbox_here(store), handoff)
    reconciler = make_reconciler(
        receiver, api_key, base_url, after=after, every=every, give_up=give_up
    )
    try:
        if once:
            report = reconciler.run_once()
            click.echo(report.summary())
            if receiver.handoff is not None:
                click.echo(f"sweep: rang {sweep_and_log(receiver)} queued deliveries again")
            for line in report.errors:
                click.echo(f"error: {line}", err=True)
            return
        log.info(
            "reconciling %s every %g s (Ctrl+C to stop)", redacted_url(store), reconciler.every
        )
        stop = threading.Event()
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.is_set():
                log.info("reconcile: %s", reconciler.run_once().summary())
                sweep_and_log(receiver)
                stop.wait(reconciler.every)
    finally:
        reconciler.client.close()
        receiver.store.close()


def task_document(task: ExpectedTask) -> dict[str, Any]:
    """An expected task as a JSON-ready object with its times in ISO 8601, as `events --json`
    prints a delivery."""
    document = task.to_dict()
    for name in ("submitted_at", "next_poll_at", "updated_at"):
        document[name] = iso_time(document[name] or None)
    return document


def task_table(rows: list[ExpectedTask]) -> str:
    """A fixed-width table of expected tasks for a terminal."""
    header = ("submitted (UTC)", "state", "by", "polls", "next poll (UTC)", "feature", "task")
    lines = [header] + [
        (
            when(t.submitted_at),
            t.state.value,
            t.settled_by or "",
            str(t.polls),
            when(t.next_poll_at) if t.state.value == "pending" else "",
            t.feature,
            t.task_id,
        )
        for t in rows
    ]
    return columns(lines)


@click.command()
@store_option
@click.option("--state", type=click.Choice(TASK_LISTINGS), help="Only tasks in this state.")
@click.option("--limit", default=50, show_default=True)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line, ISO 8601 times (as `events --json`).",
)
def tasks(store: str, state: str | None, limit: int, as_json: bool) -> None:
    """List the expected tasks: pending, overdue, settled (by callback or poll) or lost.

    \b
    Examples:
      suno-hooks tasks --state overdue
      suno-hooks tasks --json
    """
    kept = open_store(inbox_here(store))
    if not isinstance(kept, TaskStore):
        raise click.UsageError(f"{kept!r} does not keep expected tasks.")
    rows = kept.tasks(state=state, limit=limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(task_document(row), ensure_ascii=False))
    elif not rows:
        click.echo("No expected tasks.")
    else:
        click.echo(task_table(rows))
