"""Worker processes for the cross-process tests: each runs its own `Receiver` on a shared store
and records every dispatch in a file the test reads afterwards."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.inbound import InboundRequest

from .faults import DispatchLog


def deliver_all(
    store_url: str, bodies: list[bytes], dispatch_log: str, answers_path: str, seed: int, start: Any
) -> None:
    """Deliver every body in a shuffled order, retrying 409s as Suno would; log dispatches."""
    receiver = Receiver(require="none", store=store_url, lease=10)
    log = DispatchLog(dispatch_log)

    def record(sender: Any, event: Event, **extra: Any) -> None:
        log.record(event.dedupe_key)
        time.sleep(random.random() * 0.002)

    callback_received.connect(record)
    order = list(bodies)
    random.Random(seed).shuffle(order)
    answers: list[list[Any]] = []
    start.wait()
    for body in order:
        while True:
            outcome = receiver.handle(InboundRequest("POST", body))
            if outcome.status != 409:
                break
            time.sleep(0.005)
        key = outcome.event.dedupe_key if outcome.event is not None else None
        answers.append([key, outcome.status, outcome.body])
    receiver.store.close()
    Path(answers_path).write_text(json.dumps(answers))


def hang_in_handler(store_url: str, body: bytes, marker: str, lease: float) -> None:
    """Claim `body`, then block inside the handler until killed."""
    receiver = Receiver(require="none", store=store_url, lease=lease)

    def block(sender: Any, event: Event, **extra: Any) -> None:
        Path(marker).write_text(str(time.time()))
        time.sleep(600)

    callback_received.connect(block)
    receiver.handle(InboundRequest("POST", body))
