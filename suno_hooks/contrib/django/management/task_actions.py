"""`manage.py suno_hooks reconcile|sweep|tasks`: poll late tasks, ring the hand-off again for
deliveries left queued, and list the expected tasks, with the project's receiver (so results
reach the project's signal receivers)."""

from __future__ import annotations

import json
import os
import threading
from argparse import _SubParsersAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...._pipeline.queued import DEFAULT_MAX_RINGS, DEFAULT_SWEEP_AFTER
from ....errors import ConfigurationError
from ....reconcile import Reconciler
from ....stores.tasks import TASK_LISTINGS, TaskStore
from ..conf import get_receiver, hooks_settings

__all__ = ["TASK_ACTIONS", "add_task_actions", "run_task_action"]

TASK_ACTIONS = ("reconcile", "sweep", "tasks")
"""The sub-commands for expected tasks and queued deliveries: `reconcile` (poll late tasks, and
sweep), `sweep` (ring the hand-off again for deliveries left queued) and `tasks` (list them)."""


def add_task_actions(actions: _SubParsersAction[Any]) -> None:
    """Add the `reconcile`, `sweep` and `tasks` sub-commands."""
    reconcile = actions.add_parser("reconcile", help="Poll the tasks whose callback is late.")
    reconcile.add_argument("--once", action="store_true", help="One pass, then exit.")
    reconcile.add_argument("--every", type=float, default=30.0)
    reconcile.add_argument("--after", type=float, default=600.0)
    reconcile.add_argument("--give-up", type=float, default=86400.0)
    sweep = actions.add_parser("sweep", help="Ring the hand-off again for stuck deliveries.")
    sweep.add_argument("--once", action="store_true", help="One pass, then exit.")
    sweep.add_argument("--every", type=float, default=30.0)
    sweep.add_argument("--older-than", type=float, default=DEFAULT_SWEEP_AFTER)
    sweep.add_argument("--max-rings", type=int, default=DEFAULT_MAX_RINGS)
    listing = actions.add_parser("tasks", help="List the expected tasks.")
    listing.add_argument("--state", choices=TASK_LISTINGS)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="Print a JSON array.")


def run_task_action(command: BaseCommand, options: dict[str, Any]) -> None:
    """Run `reconcile`, `sweep` or `tasks` for the project's receiver."""
    receiver = get_receiver()
    if options["action"] == "sweep":
        _sweep(command, receiver, options)
        return
    if not isinstance(receiver.store, TaskStore):
        raise CommandError(f"{receiver.store!r} does not keep expected tasks.")
    if options["action"] == "tasks":
        rows = receiver.store.tasks(state=options["state"], limit=options["limit"])
        if options["json"]:
            command.stdout.write(json.dumps([t.to_dict() for t in rows], ensure_ascii=False))
        for task in [] if options["json"] else rows:
            by = f" by {task.settled_by}" if task.settled_by else ""
            line = f"{task.state.value}{by}  polls={task.polls}  {task.feature}  {task.task_id}"
            command.stdout.write(line)
        if not rows and not options["json"]:
            command.stdout.write("No expected tasks.")
        return
    reconciler = _reconciler(receiver, options)
    stop = threading.Event()
    while True:
        report = reconciler.run_once()
        command.stdout.write(report.summary())
        for line in report.errors:
            command.stderr.write(f"error: {line}")
        if receiver.handoff is not None:
            command.stdout.write(_swept(receiver.sweep()))
        if options["once"] or stop.wait(reconciler.every):
            return


def _sweep(command: BaseCommand, receiver: Any, options: dict[str, Any]) -> None:
    if receiver.handoff is None:
        raise CommandError("SUNO_HOOKS has no HANDOFF: nothing is queued, so nothing to sweep.")
    stop = threading.Event()
    while True:
        rung = receiver.sweep(older_than=options["older_than"], max_rings=options["max_rings"])
        command.stdout.write(_swept(rung))
        if options["once"] or stop.wait(options["every"]):
            return


def _swept(rung: dict[str, bool]) -> str:
    failed = sum(1 for sent in rung.values() if not sent)
    return f"sweep: rang {len(rung)} queued deliveries again ({failed} rings failed)"


def _reconciler(receiver: Any, options: dict[str, Any]) -> Reconciler:
    from ....client import DEFAULT_BASE_URL, SunoClient

    settings = hooks_settings()
    api_key = settings.get("API_KEY") or os.environ.get("SUNO_API_KEY")
    if not api_key:
        raise CommandError(
            "Polling needs the Suno API key: SUNO_HOOKS['API_KEY'] or $SUNO_API_KEY."
        )
    base_url = settings.get("API_BASE_URL") or os.environ.get("SUNO_API_BASE_URL")
    client = SunoClient(api_key, base_url=base_url or DEFAULT_BASE_URL)
    try:
        return Reconciler(
            receiver,
            client,
            after=options["after"],
            every=options["every"],
            give_up=options["give_up"],
        )
    except ConfigurationError as exc:
        raise CommandError(str(exc)) from None
