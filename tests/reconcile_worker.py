"""One reconciler in its own process, for the test that runs two at once.

    python -m tests.reconcile_worker STORE_URL SANDBOX_URL

It prints `ready`, waits for a line on stdin, runs `Reconciler.run_once()` and prints the
report and the task ids it dispatched as one JSON line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from suno_hooks import Event, callback_received
from suno_hooks.client import SunoClient
from suno_hooks.reconcile import Reconciler

from .sandbox_rig import API_KEY, rig_receiver


def main(store_url: str, sandbox_url: str) -> None:
    receiver = rig_receiver(store_url)
    dispatched: list[str] = []

    def record(sender: Any, event: Event, **extra: Any) -> None:
        dispatched.append(event.task_id)

    callback_received.connect(record)
    with SunoClient(API_KEY, base_url=sandbox_url, backoff=0.01) as client:
        reconciler = Reconciler(receiver, client, after=0, batch=7, rate=1000)
        print("ready", flush=True)
        sys.stdin.readline()
        reports = []
        while (report := reconciler.run_once()).claimed:
            reports.append(report)
    result = {
        "claimed": sum(r.claimed for r in reports),
        "polled": sum(r.polled for r in reports),
        "delivered": sum(r.delivered for r in reports),
        "dispatched": dispatched,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
