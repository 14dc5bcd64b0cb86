"""`manage.py suno_hooks list|replay|reconcile|sweep|tasks`: read the inbox, re-run failed
deliveries, poll late tasks and list the expected ones."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....outcome import Outcome
from .....stores.base import DeliveryStatus
from .....stores.delivery_json import write_json_lines
from ...conf import get_receiver
from ..task_actions import TASK_ACTIONS, add_task_actions, run_task_action


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Command(BaseCommand):
    """List the kept deliveries, or replay one (by key) or every failed one."""

    help = "List the Suno callbacks kept in the inbox, or replay failed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        """The `list`, `replay`, `reconcile` and `tasks` sub-commands and their options."""
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="List deliveries, newest first.")
        listing.add_argument("--status", choices=[s.value for s in DeliveryStatus])
        listing.add_argument("--kind", help="music, lyrics, wav, stems, …")
        listing.add_argument("--task", help="Only this task id.")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument(
            "--json", action="store_true", help="One JSON object per line, with the body."
        )
        replay = actions.add_parser("replay", help="Run the receivers again for deliveries.")
        replay.add_argument("key", nargs="?", help="The delivery's key (task_id:stage).")
        replay.add_argument("--failed", action="store_true", help="Every failed delivery.")
        replay.add_argument("--limit", type=int, default=100)
        replay.add_argument(
            "--force", action="store_true", help="Run the handlers again even for a done delivery."
        )
        add_task_actions(actions)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the sub-command given on the command line."""
        if options["action"] in TASK_ACTIONS:
            run_task_action(self, options)
        elif options["action"] == "list":
            self._list(options)
        else:
            self._replay(options)

    def _list(self, options: dict[str, Any]) -> None:
        found = get_receiver().store.deliveries(
            status=options["status"],
            kind=options["kind"],
            task_id=options["task"],
            limit=options["limit"],
        )
        if options["json"]:
            write_json_lines(found, self.stdout.write)
            return
        if not found:
            self.stdout.write("No deliveries.")
            return
        self.stdout.write(f"{'received (UTC)':19}  {'status':10}  {'tries':>5}  {'kind':11}  key")
        for d in found:
            line = f"{_when(d.received_at)}  {d.status.value:10}  {d.attempts:>5}  {d.kind:11}  "
            self.stdout.write(line + d.key)
            if d.error:
                self.stdout.write(f"{'':21}error: {d.error}")

    def _replay(self, options: dict[str, Any]) -> None:
        receiver = get_receiver()
        if options["failed"] == bool(options["key"]):
            raise CommandError("Give one delivery key, or --failed.")
        if options["force"] and not options["key"]:
            raise CommandError("--force replays one delivery: give its key.")
        if options["key"]:
            try:
                outcomes = {options["key"]: receiver.replay(options["key"], force=options["force"])}
            except KeyError as exc:
                raise CommandError(str(exc.args[0])) from None
        else:
            outcomes = receiver.replay_failed(limit=options["limit"])
        if not outcomes:
            self.stdout.write("No failed deliveries.")
        for key, outcome in outcomes.items():
            self.stdout.write(f"{key}: {self._describe(key, outcome)}")

    def _describe(self, key: str, outcome: Outcome) -> str:
        if not outcome.ok:
            return f"{outcome.status} {outcome.body.get('error')}"
        kept = get_receiver().store.get(key)
        if kept is not None and kept.status is DeliveryStatus.FAILED:
            return f"failed again: {kept.error}"
        return str(outcome.body.get("status"))
