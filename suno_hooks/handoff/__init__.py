"""Hand-offs: answer Kie's callback at once and run its handlers later, in a worker.

A receiver built with `handoff=` records each verified delivery as `queued`, answers 200 and then
rings the hand-off with the delivery's dedupe key; the worker calls `receiver.run_queued(key)`,
which claims the delivery's lease, so its handlers run once whatever the queue does. A hand-off
with `ring_many` (`RingsMany`) gets the rings that wait while one is sent as one batch. Engines:
`ThreadHandoff` (in process), `suno_hooks.contrib.celery.CeleryHandoff`,
`suno_hooks.contrib.rq.RQHandoff` and `suno_hooks.contrib.django.handoff.DjangoTasksHandoff`.
"""

from __future__ import annotations

from ._protocol import Handoff, HandoffError, QueuedRunner, RingsMany, ring_or_log
from ._setting import handoff_from_setting
from ._thread import ThreadHandoff

__all__ = [
    "Handoff",
    "HandoffError",
    "QueuedRunner",
    "RingsMany",
    "ThreadHandoff",
    "handoff_from_setting",
    "ring_or_log",
]
