"""The handlers of the fault tests' receivers, connected on import (so `suno-hooks replay
--handlers tests.support.fault_handlers` runs them too): every run appends its dedupe key to the
dispatch log named by `FAULT_LOG`.

When `FAULT_PAUSE_ENTERED` and `FAULT_PAUSE_RESUME` name FIFOs (servers only), the handler of a
task whose id starts with `pause` writes its process id to the first and waits for a line on
the second before it records its run."""

from __future__ import annotations

import os
from typing import Any

from suno_hooks import Event, callback_received

from .faults import PAUSE_PREFIX, DispatchLog

LOG = DispatchLog(os.environ["FAULT_LOG"])


def pause_if_asked(event: Event) -> None:
    """Hold a `pause…` task's handler until the test lets it go (or kills the worker)."""
    entered = os.environ.get("FAULT_PAUSE_ENTERED")
    resume = os.environ.get("FAULT_PAUSE_RESUME")
    if not (entered and resume and event.task_id.startswith(PAUSE_PREFIX)):
        return
    with open(entered, "w", encoding="utf-8") as fifo:
        fifo.write(f"{os.getpid()}\n")
    with open(resume, encoding="utf-8") as fifo:
        fifo.readline()


def record(sender: Any, event: Event, **extra: Any) -> None:
    """Run once per dispatch: pause when asked, then log the dedupe key."""
    pause_if_asked(event)
    LOG.record(event.dedupe_key)


callback_received.connect(record, weak=False)
