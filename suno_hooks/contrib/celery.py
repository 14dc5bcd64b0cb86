"""Run queued deliveries in a Celery worker: `Receiver(..., handoff=CeleryHandoff(celery_app))`.

Constructing `CeleryHandoff(app)` registers two tasks, `suno_hooks.run_queued` and
`suno_hooks.fan_out`, on `app` (with no app, as shared tasks on whichever app is current). A ring
sends the first with the delivery's dedupe key only; the task calls `run_queued(key)` on the
receiver bound to the hand-off, so the worker must import the module that builds the receiver,
as Flask projects do for Celery:

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

The receiver rings the keys that wait while one is sent with `ring_many(keys)`: two keys or more
go as one message of `suno_hooks.fan_out`, whose worker sends `suno_hooks.run_queued` once per
key, as a lone ring does, with the same routing and retry policy, so the web process publishes
one message, not one per key. The fan-out is acknowledged late too; one lost, or whose worker is
killed before it sent the keys, leaves its deliveries queued in the store, and the sweeper rings
them. With `CeleryHandoff(..., fan_out=False)`, and in the fan-out's worker, `ring_many` sends
the task once per key over one producer taken from the app's pool, so a batch pays for one
checkout. A batch stops at its first failed publish: the keys after it are reported unsent, not
retried (in the fan-out's worker, logged at WARNING and left to the sweeper).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from celery import Celery, shared_task

from ..handoff import HandoffError, QueuedRunner
from ..handoff._protocol import named, ring_batch_or_log
from ..stores.redaction import redacted_text

__all__ = ["FAN_OUT_TASK_NAME", "TASK_NAME", "CeleryHandoff", "bound_receiver"]

TASK_NAME = "suno_hooks.run_queued"
"""The name of the task `CeleryHandoff` registers (unless given another `name=`)."""

FAN_OUT_TASK_NAME = "suno_hooks.fan_out"
"""The name of the task that rings a batch of keys in the worker; beside a task given another
`name=`, it is that name followed by `.fan_out`."""

_REPR_LIMIT = 1000

_lock = threading.Lock()
_receivers: dict[str, QueuedRunner] = {}
_senders: dict[str, CeleryHandoff] = {}


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


def _fan_out(name: str, keys: list[str]) -> None:
    """Send the task of each of `keys` as the hand-off built last with the fan-out `name` in
    this process does (its routing and retry policy); log those it could not send."""
    ring_batch_or_log(_senders[name]._send_each, keys)


def _fan_out_name(name: str) -> str:
    return FAN_OUT_TASK_NAME if name == TASK_NAME else f"{name}.fan_out"


class CeleryHandoff:
    """A hand-off to Celery: registers its tasks on `celery_app` now; `queue` routes them (else
    the app's default routing applies); `retry_policy` bounds the publish retries; `fan_out`
    sends a batch of keys as one message that a worker turns into one per key."""

    out_of_process = True

    def __init__(
        self,
        celery_app: Celery | None = None,
        *,
        queue: str | None = None,
        name: str = TASK_NAME,
        retry_policy: dict[str, Any] | None = None,
        fan_out: bool = True,
    ) -> None:
        self.app = celery_app
        self.queue = queue
        self.name = name
        self.retry_policy = retry_policy
        self.fan_out = fan_out

        fan_out_name = _fan_out_name(name)

        def run_queued(key: str) -> None:
            _run_queued(name, key)

        def fan_out_task(keys: list[str]) -> None:
            _fan_out(fan_out_name, keys)

        self.task = self._register(name, "run_queued", run_queued)
        self.fan_out_task = self._register(fan_out_name, "fan_out", fan_out_task)
        with _lock:
            _senders[fan_out_name] = self

    def _register(self, name: str, function_name: str, function: Any) -> Any:
        """`function` as the task `name`, acknowledged late, on this hand-off's app."""
        function.__module__ = __name__
        function.__qualname__ = function.__name__ = function_name
        options: dict[str, Any] = {
            "name": name,
            "acks_late": True,
            "reject_on_worker_lost": True,
            "ignore_result": True,
        }
        if self.app is None:
            return shared_task(**options)(function)
        # this app only: a shared task would reach every app created afterwards
        return self.app.task(shared=False, **options)(function)

    def __repr__(self) -> str:
        fan_out = "" if self.fan_out else ", fan_out=False"
        return f"CeleryHandoff(task={self.name!r}, queue={self.queue!r}{fan_out})"

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
        """Send the task with each of `keys`, in order, over one producer, or, for two keys or
        more unless `fan_out` is off, the one fan-out message whose worker does so; the keys
        not sent after the first that failed, with that error (`HandoffError` when none was)."""
        if not self.fan_out or len(keys) < 2:
            return self._send_each(keys)
        # Celery's saferepr of the keys, cut at its size limit, is the message's argsrepr.
        return self._send([(self.fan_out_task, (list(keys),), None, keys)])

    def _send_each(self, keys: Sequence[str]) -> dict[str, HandoffError]:
        # The headers' text of the arguments, as Celery's saferepr writes it for any key under
        # its size limit, without its cost on every message.
        return self._send(
            [
                (self.task, (key,), repr((key,)) if len(key) < _REPR_LIMIT else None, [key])
                for key in keys
            ]
        )

    def _send(
        self, messages: list[tuple[Any, tuple[Any, ...], str | None, Sequence[str]]]
    ) -> dict[str, HandoffError]:
        """Publish `messages` (task, arguments, their text, the keys they carry) in order over
        one producer; the keys of those not sent after the first that failed, with its error."""
        options: dict[str, Any] = {"kwargsrepr": "{}"}
        if self.queue is not None:
            options["queue"] = self.queue
        if self.retry_policy is not None:
            options["retry_policy"] = self.retry_policy
        app = self.app or self.task.app
        sent = 0
        try:
            with app.producer_or_acquire() as producer:
                for task, args, argsrepr, _ in messages:
                    task.apply_async(args, producer=producer, argsrepr=argsrepr, **options)
                    sent += 1
        except Exception as exc:
            detail = redacted_text(str(exc), str(app.conf.broker_url or ""))
            unsent = [key for *_, keys in messages[sent:] for key in keys]
            error = HandoffError(
                f"Celery could not send {named(unsent)}: {type(exc).__name__}: {detail}"
            )
            if not sent:
                raise error from None
            return dict.fromkeys(unsent, error)
        return {}
