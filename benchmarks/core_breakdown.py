"""Where a new callback's time goes: the core's own steps added one at a time, in one run.

    .venv/bin/python benchmarks/core_breakdown.py [--n 20000] [--repeat 5]

Each row runs every step above it plus its own over the same signed two-track bodies as
`benchmarks/core.py`, so the difference between two rows is what that step adds. The steps
are the library's public pieces (`load_json`/`probe`, `HmacVerifier.check`, `MemoryStore`,
`build_event`, `BlinkerDispatcher`); the last row is `Receiver.handle`, whose surplus over the
row before it is the pipeline's own glue (request checks, `Outcome`, error handling).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.core import KEY, bodies, floor_path, measure
from suno_hooks import Receiver, task_completed
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks._pipeline.dispatch import BlinkerDispatcher
from suno_hooks._security.signatures import HmacVerifier
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.stores import Delivery, MemoryStore, ReplayCheck

STEPS = (
    "JSON + task id + stage (load_json, probe)",
    "+ signature (HmacVerifier.check)",
    "+ inbox record (Delivery, ReplayCheck)",
    "+ claim (MemoryStore.claim, replay guard)",
    "+ typed event (build_event: tracks, code info)",
    "+ signals (one no-op receiver)",
    "+ finish (MemoryStore.finish)",
)


class _Sender:
    """Stands for the `Receiver` that sends the signals."""


def steps_path(requests: list[InboundRequest], depth: int) -> Callable[[int], None]:
    """The first `depth` steps of `STEPS` over `requests`, with a fresh store per run."""
    verifier = HmacVerifier([KEY])
    dispatcher = BlinkerDispatcher()
    sender = _Sender()  # weakly referable, as a `Receiver` is: its receivers are looked up once

    def run(count: int) -> None:
        store = MemoryStore(max_deliveries=count)
        for request in requests[:count]:
            found = probe(load_json(request.body))
            if depth < 2:
                continue
            signed = verifier.check(found.task_id, request.headers)
            if depth < 3 or signed is None:
                continue
            received = time.time()
            delivery = Delivery(
                found.dedupe_key,
                found.task_id,
                found.stage,
                request.body,
                found.kind,
                received_at=received,
            )
            replay = ReplayCheck(signed.replay_key, request.body, 600.0)
            if depth < 4:
                continue
            claim = store.claim(delivery, lease=60.0, replay=replay)
            if depth < 5:
                continue
            event = build_event(
                found, kind=found.kind, received_at=datetime.fromtimestamp(received, timezone.utc)
            )
            if depth < 6:
                continue
            dispatcher.send(sender, event)
            if depth < 7:
                continue
            store.finish(found.dedupe_key, token=claim.token)

    return run


def handle_path(requests: list[InboundRequest]) -> Callable[[int], None]:
    """`Receiver.handle` over `requests`, with a fresh receiver and store per run."""

    def run(count: int) -> None:
        handle = Receiver(hmac_keys=[KEY], store=MemoryStore(max_deliveries=count)).handle
        for request in requests[:count]:
            if handle(request).status != 200:
                raise AssertionError("not accepted")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    samples = bodies(args.n)
    requests = [InboundRequest("POST", raw, Headers.of(headers)) for raw, headers in samples]

    def noop(sender: Any, **kwargs: Any) -> None:
        return None

    floor_us = measure(floor_path(samples), args.n, args.repeat)
    rows: list[tuple[str, float]] = [("floor: HMAC + model_validate_json + dict insert", floor_us)]
    with task_completed.connected_to(noop):
        for depth, name in enumerate(STEPS, start=1):
            rows.append((name, measure(steps_path(requests, depth), args.n, args.repeat)))
        handled = measure(handle_path(requests), args.n, args.repeat)
        rows.append(("Receiver.handle (all of it)", handled))

    print(f"{'steps so far':<50} {'µs/callback':>12} {'× floor':>8} {'step adds':>10}")
    previous = 0.0
    for index, (name, value) in enumerate(rows):
        added = "" if index == 0 else f"{value - previous:>10.2f}"
        print(f"{name:<50} {value:>12.2f} {value / floor_us:>8.2f} {added:>10}")
        previous = value if index else 0.0


if __name__ == "__main__":
    main()
