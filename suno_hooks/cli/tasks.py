"""`suno-hooks reconcile` and `suno-hooks tasks`: poll late tasks, list the expected ones."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .._pipeline.queued import DEFAULT_SWEEP_AFTER
from ..errors import ConfigurationError
from ..receiver import Receiver
from ..reconcile import Reconciler
from ..stores.delivery_json import iso_time
from ..stores.redaction import redacted_url
from ..stores.tasks import TASK_LISTINGS, ExpectedTask, TaskStore
from .inbox import columns, open_store, when
from .options import import_handlers, inbox_here, needs, offline_receiver, store_option

__all__ = [
    "reconcile",
    "reconcile_and_sweep",
    "start_reconciler",
    "sweep_after_option",
    "sweep_and_log",
    "tasks",
]

log = logging.getLogger("suno_hooks.reconcile")
F = TypeVar("F", bound=Callable[..., Any])
API_KEY_ENV = "SUNO_API_KEY"
BASE_URL_ENV = "SUNO_API_BASE_URL"
BASE_URL_HELP = (
    f"The Suno API's base URL (a sandbox's, say). Default: ${BASE_URL_ENV}, else "
    "https://api.kie.ai."
)
AFTER_HELP = "First poll of a task this many seconds after its submission."
SWEEP_AFTER_HELP = (
    "With a hand-off, ring again a delivery still queued this many seconds after it was queued "
    "or last rung, or processing this long after its lease ended."
)
_SWEEP_AT_MOST_EVERY = 1.0  # seconds: a tiny --sweep-after must not become a busy loop


def sweep_after_option(more: str = "") -> Callable[[F], F]:
    """`--sweep-after SECONDS`: how long a delivery waits before the sweeper rings it again
    (positive; `Receiver.sweep`'s default when not given), its help followed by `more`."""
    return click.option(
        "--sweep-after",
        type=click.FloatRange(min=0, min_open=True),
        default=DEFAULT_SWEEP_AFTER,
        show_default=True,
        metavar="SECONDS",
        help=SWEEP_AFTER_HELP + more,
    )


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


def sweep_and_log(receiver: Receiver, older_than: float = DEFAULT_SWEEP_AFTER) -> int:
    """With a hand-off, ring again the deliveries left `queued` or abandoned for `older_than`
    seconds (`Receiver.sweep`) and log how many; the number rung (0 without a hand-off)."""
    if receiver.handoff is None:
        return 0
    rung = receiver.sweep(older_than=older_than)
    if rung:
        failed = sum(1 for sent in rung.values() if not sent)
        log.info("sweep: rang %d queued deliveries again (%d rings failed)", len(rung), failed)
    return len(rung)


def reconcile_and_sweep(
    reconciler: Reconciler,
    receiver: Receiver,
    stop: threading.Event,
    sweep_after: float = DEFAULT_SWEEP_AFTER,
) -> None:
    """Until `stop` is set, poll the due tasks every `reconciler.every` seconds and, with a
    hand-off, sweep as often, or every `sweep_after` seconds when that is sooner (at most once
    a second); a failing pass is logged and tried again, and never keeps the other from running."""
    pause = reconciler.every
    if receiver.handoff is not None:
        pause = min(pause, max(sweep_after, _SWEEP_AT_MOST_EVERY))
    next_poll = time.monotonic()
    while not stop.is_set():
        if time.monotonic() >= next_poll:
            try:
                log.info("reconcile: %s", reconciler.run_once().summary())
            except Exception:
                log.exception("a reconcile run failed")
            next_poll = time.monotonic() + reconciler.every
        try:
            sweep_and_log(receiver, sweep_after)
        except Exception:
            log.exception("a sweep failed")
        stop.wait(pause)


def start_reconciler(
    receiver: Receiver,
    *,
    every: float = 30.0,
    after: float = 600.0,
    base_url: str | None = None,
    api_key: str | None = None,
    sweep_after: float = DEFAULT_SWEEP_AFTER,
) -> Callable[[], None]:
    """Run a reconciler in a background thread (which also sweeps, when the receiver has a
    hand-off, the deliveries left for `sweep_after` seconds); returns the function that stops
    it. The key and the API's URL default to `SUNO_API_KEY` and `SUNO_API_BASE_URL` (else
    Kie's API); each task is first polled `after` seconds after its submission."""
    reconciler = make_reconciler(
        receiver,
        api_key or os.environ.get(API_KEY_ENV),
        base_url or os.environ.get(BASE_URL_ENV),
        every=every,
        after=after,
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=reconcile_and_sweep,
        args=(reconciler, receiver, stop, sweep_after),
        name="suno-hooks-reconcile",
        daemon=True,
    )
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
@sweep_after_option()
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
    sweep_after: float = DEFAULT_SWEEP_AFTER,
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
                rung = sweep_and_log(receiver, sweep_after)
                click.echo(f"sweep: rang {rung} queued deliveries again")
            for line in report.errors:
                click.echo(f"error: {line}", err=True)
            return
        log.info(
            "reconciling %s every %g s (Ctrl+C to stop)", redacted_url(store), reconciler.every
        )
        with contextlib.suppress(KeyboardInterrupt):
            reconcile_and_sweep(reconciler, receiver, threading.Event(), sweep_after)
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
