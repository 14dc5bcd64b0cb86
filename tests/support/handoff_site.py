"""A project with a hand-off, as the end-to-end tests run it: the web server (gunicorn's
`wsgi`, uvicorn's `asgi`) and the worker (`celery -A tests.support.handoff_site worker`, or an
`rq worker` whose jobs import `receiver` from here) import this module.

The environment says what to build: `SITE_ENGINE` (`celery` or `rq`), `SITE_STORE` (a store
URL every process reads), `SITE_BROKER` (the redis-server URL), `SITE_HMAC`, `SITE_LEASE`
(seconds) and `SITE_HANDLER_SECONDS` (how long the handler works); the handler writes `started`
and `done` to the ledger named by `SUNO_HOOKS_TEST_LEDGER`. With `SITE_HOLD_FAN_OUT` set, a
Celery worker records each fan-out task as `held` (under the task's name) and holds it (up to
60 s) before it rings a key, so that a test can kill it there.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery.signals import task_prerun

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.asgi import asgi_app
from suno_hooks.contrib.celery import FAN_OUT_TASK_NAME
from suno_hooks.contrib.rq import RQHandoff
from suno_hooks.handoff import Handoff
from suno_hooks.wsgi import wsgi_app

from .handoff_celery_app import build
from .handoff_ledger import Ledger

ENGINE = os.environ["SITE_ENGINE"]
BROKER = os.environ["SITE_BROKER"]
RQ_QUEUE = "suno-hooks-site"

handoff: Handoff
if ENGINE == "celery":
    app, handoff = build(BROKER, visibility=float(os.environ.get("SITE_VISIBILITY", "3600")))
else:
    handoff = RQHandoff.from_url(
        BROKER, queue_name=RQ_QUEUE, receiver="tests.support.handoff_site:receiver", timeout=2
    )

receiver = Receiver(
    hmac_keys=[os.environ["SITE_HMAC"]],
    store=os.environ["SITE_STORE"],
    lease=float(os.environ.get("SITE_LEASE", "60")),
    handoff=handoff,
)
ledger = Ledger(os.environ["SUNO_HOOKS_TEST_LEDGER"])
_SECONDS = float(os.environ.get("SITE_HANDLER_SECONDS", "2"))


@callback_received.connect_via(receiver, weak=False)
def work(sender: Any, event: Event, **extra: Any) -> None:
    """A slow handler: downloads the music, say."""
    ledger.record(event.dedupe_key, "started")
    time.sleep(_SECONDS)
    ledger.record(event.dedupe_key, "done")


if ENGINE == "celery" and os.environ.get("SITE_HOLD_FAN_OUT"):

    @task_prerun.connect(weak=False)
    def hold(sender: Any = None, **extra: Any) -> None:
        """Hold a fan-out before it rings, recorded under the task's name."""
        if getattr(sender, "name", None) == FAN_OUT_TASK_NAME:
            ledger.record(FAN_OUT_TASK_NAME, "held")
            time.sleep(60)


wsgi = wsgi_app(receiver)
asgi = asgi_app(receiver)
