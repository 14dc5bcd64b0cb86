"""Run queued deliveries in a Celery worker: `Receiver(..., handoff=CeleryHandoff(celery_app))`.

Constructing `CeleryHandoff(app)` registers one task, `suno_hooks.run_queued`, on `app` (with no
app, as a shared task on whichever app is current). A ring sends that task with the delivery's
dedupe key only; the task calls `run_queued(key)` on the receiver bound to the hand-off, so the
worker must import the module that builds the receiver, as Flask projects do for Celery:

    celery -A myapp.hooks worker --loglevel=info

The task is acknowledged late, after `run_queued` returns: a worker killed mid-handler leaves its
message unacknowledged. What then happens depends on the broker. On RabbitMQ the message comes
back as soon as the worker's connection closes. On Redis (and SQS) it stays in the unacked set
until `visibility_timeout` has passed since it was delivered (one hour by default, set in
`broker_transport_options`), and only a running worker's periodic scan puts it back; restarting
the worker does not bring it back sooner. Lowering the timeout below your longest handler makes
Redis hand a still-running task to a second worker (the delivery's lease keeps that second run from
dispatching again). The library's sweeper is what brings such a delivery back within minutes.

Publishing retries a few times, briefly (Celery's default policy), then the ring raises
`HandoffError`; set `broker_transport_options = {"socket_connect_timeout": 5, "socket_timeout": 5}`
so that a broker which vanishes without closing the connection cannot hold a request either.

`ring_many(keys)` sends the task once per key over one producer taken from the app's pool, so a
batch pays for one checkout; the receiver uses it for the rings that wait while one is sent. A
batch stops at its first failed publish: the keys after it are reported unsent, not retried.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from celery import Celery, shared_task

from ..handoff import HandoffError, QueuedRunner
from ..handoff._protocol import named
from ..stores.redaction import redacted_text

__all__ = ["TASK_NAME", "CeleryHandoff", "bound_receiver"]

TASK_NAME = "suno_hooks.run_queued"
"""The name of the task `CeleryHandoff` registers (unless given another `name=`)."""

_REPR_LIMIT = 1000

_lock = threading.Lock()
_receivers: dict[str, QueuedRunner] = {}


def bound_receiver(name: str = TASK_NAME) -> QueuedRunner:
    """The receiver bound to the hand-off whose task is called `name`, in this process."""
    receiver = _receivers.get(name)
    if receiver is None:
        raise LookupError(
            f"no receiver is bound to the Celery task {name!r} in this worker: start the worker "
            "with -A naming the module that builds the Receiver with this CeleryHandoff."
        )
    return receiver


def _run_queued(name: str, key: str) -> None:
    bound_receiver(name).run_queued(key)


class CeleryHandoff:
    """A hand-off to Celery: registers the task on `celery_app` now; `queue` routes it (else
    the app's default routing applies); `retry_policy` bounds the publish retries."""

    out_of_process = True

    def __init__(
        self,
        celery_app: Celery | None = None,
        *,
        queue: str | None = None,
        name: str = TASK_NAME,
        retry_policy: dict[str, Any] | None = None,
    ) -> None:
        self.app = celery_app
        self.queue = queue
        self.name = name
        self.retry_policy = retry_policy

        def run_queued(key: str) -> None:
            _run_queued(name, key)

        run_queued.__module__ = __name__
        run_queued.__qualname__ = run_queued.__name__ = "run_queued"
        options: dict[str, Any] = {
            "name": name,
            "acks_late": True,
            "reject_on_worker_lost": True,
            "ignore_result": True,
        }
        if celery_app is None:
            self.task = shared_task(**options)(run_queued)
        else:  # this app only: a shared task would reach every app created afterwards
            self.task = celery_app.task(shared=False, **options)(run_queued)

    def __repr__(self) -> str:
        return f"CeleryHandoff(task={self.name!r}, queue={self.queue!r})"

    def bind(self, receiver: QueuedRunner) -> None:
        """Make `receiver` the one this task runs in this process (the web app's and the
        worker's, since both import the module that builds it)."""
        with _lock:
            _receivers[self.name] = receiver

    def ring(self, key: str) -> None:
        """Send the task with `key`; `HandoffError` when the broker cannot take it."""
        for error in self.ring_many([key]).values():
            raise error

    def ring_many(self, keys: Sequence[str]) -> dict[str, HandoffError]:
        """Send the task with each of `keys`, in order, over one producer; the keys not sent
        after the first that failed, with that error (`HandoffError` when none was sent)."""
        options: dict[str, Any] = {"kwargsrepr": "{}"}
        if self.queue is not None:
            options["queue"] = self.queue
        if self.retry_policy is not None:
            options["retry_policy"] = self.retry_policy
        app = self.app or self.task.app
        sent = 0
        try:
            with app.producer_or_acquire() as producer:
                for key in keys:
                    # The headers' text of the arguments, as Celery's saferepr writes it for
                    # any key under its size limit, without its cost on every message.
                    argsrepr = repr((key,)) if len(key) < _REPR_LIMIT else None
                    self.task.apply_async((key,), producer=producer, argsrepr=argsrepr, **options)
                    sent += 1
        except Exception as exc:
            detail = redacted_text(str(exc), str(app.conf.broker_url or ""))
            unsent = keys[sent:]
            error = HandoffError(
                f"Celery could not send {named(unsent)}: {type(exc).__name__}: {detail}"
            )
            if not sent:
                raise error from None
            return dict.fromkeys(unsent, error)
        return {}
