"""Run queued deliveries in an RQ worker: `Receiver(..., handoff=RQHandoff(queue, receiver=...))`.

A ring enqueues `suno_hooks.contrib.rq.run_queued(key, receiver)` with a job id derived from the
delivery's dedupe key, so ringing again while that job waits or runs adds nothing; once the job
has finished or been stopped, the next ring queues it afresh, and a failed job is requeued from
RQ's failed registry. The job imports the receiver from the dotted path given as `receiver=`
(e.g. `"myapp.hooks:receiver"`), so a plain worker runs it:

    rq worker --url redis://localhost:6379/0 suno-hooks

Without `receiver=`, the job uses the receiver bound in the worker's own process, which is
there only when the worker imported the module that builds it (a custom worker script).

RQ marks a job `started` while a worker runs it, and a ring adds nothing while RQ still counts
the job as running: its worker renews the job's heartbeat every `--job-monitoring-interval`
seconds (30 by default). A worker killed outright (SIGKILL, power loss) renews it no more; once
the last heartbeat has lapsed (that interval, or the job's time left if shorter, plus 60 s), a
ring that finds the job still `started` runs RQ's cleanup of the started registry
(`StartedJobRegistry.cleanup`, which a worker otherwise runs every 10 minutes). RQ then moves
the job to its failed registry as abandoned, and the ring requeues it. The library's sweeper
rings every delivery still queued, or processing after its lease ended, so a delivery whose
worker was killed runs again about 90 s after the kill plus the sweeper's own delay. A
work-horse killed while its worker survives has its job marked failed at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError, InvalidJobOperation
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from ..handoff import HandoffError, QueuedRunner
from ..handoff._protocol import import_object
from ..stores.redaction import MASK

__all__ = ["RQHandoff", "job_id", "run_queued"]

_DONE = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})

_lock = threading.Lock()
_bound: list[QueuedRunner] = []
_imported: dict[str, QueuedRunner] = {}


def job_id(key: str) -> str:
    """The RQ job id for the delivery `key`: stable, unique per key, and made only of the
    characters RQ accepts in an id whatever the key holds."""
    return "suno-hooks-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def run_queued(key: str, receiver: str | None = None) -> None:
    """The job: run the queued delivery `key` on the receiver at the dotted path `receiver`,
    or on the one bound in this process."""
    _receiver(receiver).run_queued(key)


def _receiver(path: str | None) -> QueuedRunner:
    if path is None:
        if not _bound:
            raise LookupError(
                "no receiver is bound in this RQ worker: give RQHandoff(receiver="
                "'package.module:receiver') so the job can import it."
            )
        return _bound[-1]
    found = _imported.get(path)
    if found is None:
        found = import_object(path, "RQHandoff receiver")
        if not isinstance(found, QueuedRunner):
            raise TypeError(f"RQHandoff receiver {path!r} has no run_queued(key).")
        with _lock:
            _imported[path] = found
    return found


class RQHandoff:
    """A hand-off to the RQ queue `queue`; `receiver` is the dotted path the job imports the
    receiver from; `options` go to `Queue.enqueue` (`job_timeout`, `result_ttl`, ...)."""

    out_of_process = True

    def __init__(self, queue: Queue, *, receiver: str | None = None, **options: Any) -> None:
        if receiver is not None and ":" not in receiver and "." not in receiver:
            raise ValueError("receiver must be a dotted path like 'myapp.hooks:receiver'.")
        self.queue = queue
        self.receiver = receiver
        self.options = options

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        queue_name: str = "suno-hooks",
        receiver: str | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> RQHandoff:
        """A hand-off to the queue `queue_name` on the Redis at `url`, whose connection gives up
        after `timeout` seconds, so a broker that is down cannot hold a callback's answer."""
        connection = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return cls(Queue(queue_name, connection=connection), receiver=receiver, **options)

    @classmethod
    def from_environ(cls) -> RQHandoff:
        """What `handoff="rq"` builds: a hand-off to the queue `suno-hooks` on the Redis at
        `SUNO_HOOKS_RQ_URL` (default `redis://localhost:6379/0`), whose jobs import the receiver
        at the dotted path `SUNO_HOOKS_RECEIVER`."""
        url = os.environ.get("SUNO_HOOKS_RQ_URL", "redis://localhost:6379/0")
        return cls.from_url(url, receiver=os.environ.get("SUNO_HOOKS_RECEIVER") or None)

    def __repr__(self) -> str:
        return f"RQHandoff(queue={self.queue.name!r}, receiver={self.receiver!r})"

    def bind(self, receiver: QueuedRunner) -> None:
        """Remember `receiver` in this process, for jobs enqueued without a `receiver` path."""
        with _lock:
            _bound.append(receiver)

    def ring(self, key: str) -> None:
        """Enqueue the job for `key` unless one is already waiting or running."""
        try:
            self._enqueue(key)
        except RedisError as exc:
            detail = _without_password(str(exc), self.queue.connection)
            raise HandoffError(
                f"RQ could not queue {key}: {type(exc).__name__}: {detail}"
            ) from None

    def _enqueue(self, key: str) -> None:
        identity = job_id(key)
        for _ in range(3):
            try:
                self.queue.enqueue(
                    run_queued, key, self.receiver, job_id=identity, unique=True, **self.options
                )
                return
            except DuplicateJobError:
                job = self.queue.fetch_job(identity)
                if job is None:
                    continue  # it expired between the two commands
                status = self._status(job)
                if status not in _DONE:
                    return  # waiting or running: this ring adds nothing
                if status != JobStatus.FAILED:
                    job.delete()
                    continue
                # Requeued rather than deleted: deleting a job that RQ called abandoned fails
                # for a minute, while its execution is listed but its record has expired.
                with contextlib.suppress(InvalidJobOperation):  # another ring requeued it
                    self.queue.failed_job_registry.requeue(job)
                    return
        raise HandoffError(f"RQ could not queue {key}: its job id stayed taken")

    def _status(self, job: Job) -> JobStatus:
        """The job's status; for one RQ calls started, once RQ's cleanup has moved the jobs whose
        heartbeat lapsed (their worker was killed) to the failed registry."""
        status = job.get_status(refresh=True)
        if status != JobStatus.STARTED:
            return status
        StartedJobRegistry(queue=self.queue).cleanup()
        return job.get_status(refresh=True)


def _without_password(text: str, connection: Redis) -> str:
    password = connection.connection_pool.connection_kwargs.get("password")
    return text.replace(password, MASK) if isinstance(password, str) and password else text
