"""The Celery app of the hand-off tests, as a project would write it: the worker imports this
module (`celery -A tests.support.handoff_celery_app worker`), which builds the app, the
hand-off and the receiver it binds.

`SUNO_HOOKS_TEST_BROKER` is the broker URL; `SUNO_HOOKS_TEST_VISIBILITY` the Redis visibility
timeout in seconds (Celery's one hour by default).
"""

from __future__ import annotations

import os

from celery import Celery

from suno_hooks.contrib.celery import CeleryHandoff

from .handoff_ledger import LEDGER_ENV, RecordingReceiver

QUEUE = "suno-hooks-tests"


def build(
    broker: str, *, visibility: float = 3600, fan_out: bool = True
) -> tuple[Celery, CeleryHandoff]:
    """A Celery app on `broker` whose socket operations give up after 2 s, and its hand-off
    (sending a batch as one fan-out message unless `fan_out` is False)."""
    app = Celery("handoff-tests", broker=broker, set_as_current=False)
    app.conf.update(
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        worker_prefetch_multiplier=1,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
    )
    return app, CeleryHandoff(app, queue=QUEUE, fan_out=fan_out)


if "SUNO_HOOKS_TEST_BROKER" in os.environ:
    app, handoff = build(
        os.environ["SUNO_HOOKS_TEST_BROKER"],
        visibility=float(os.environ.get("SUNO_HOOKS_TEST_VISIBILITY", "3600")),
    )
    if LEDGER_ENV in os.environ:
        handoff.bind(RecordingReceiver())  # what Receiver(..., handoff=handoff) will do
