"""One reconciler in its own process, for the tests that run two at once.

    python -m tests.support.reconcile_worker STORE_URL SANDBOX_URL
    python -m tests.support.reconcile_worker STORE SANDBOX --for 7 --every 2 --rate 5 --lease 4

It prints `ready` and waits for a line on stdin. Without `--for` it runs `Reconciler.run_once()`
until a pass claims nothing; with it, it runs passes back to back (no wait between them, so two
workers contend for every task) for that many seconds. Then it prints the summed reports and
the task ids it dispatched as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from suno_hooks import Event, callback_received
from suno_hooks.client import SunoClient
from suno_hooks.reconcile import Reconciler, ReconcileReport

from .sandbox_rig import API_KEY, rig_receiver


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store_url")
    parser.add_argument("sandbox_url")
    parser.add_argument("--for", dest="duration", type=float)
    parser.add_argument("--every", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--lease", type=float, default=120.0)
    parser.add_argument("--batch", type=int, default=7)
    args = parser.parse_args(argv)
    receiver = rig_receiver(args.store_url)
    dispatched: list[str] = []

    def record(sender: Any, event: Event, **extra: Any) -> None:
        dispatched.append(event.task_id)

    callback_received.connect(record)
    reports: list[ReconcileReport] = []
    with SunoClient(API_KEY, base_url=args.sandbox_url, backoff=0.01, timeout=1.0) as client:
        reconciler = Reconciler(
            receiver,
            client,
            after=0,
            every=args.every,
            batch=args.batch,
            rate=args.rate,
            lease=args.lease,
        )
        print("ready", flush=True)
        sys.stdin.readline()
        if args.duration is None:
            while (report := reconciler.run_once()).claimed:
                reports.append(report)
        else:
            end = time.monotonic() + args.duration
            while time.monotonic() < end:
                reports.append(reconciler.run_once())
                time.sleep(0.01)
    result = {
        "claimed": sum(r.claimed for r in reports),
        "polled": sum(r.polled for r in reports),
        "delivered": sum(r.delivered for r in reports),
        "errors": [line for r in reports for line in r.errors],
        "dispatched": dispatched,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
