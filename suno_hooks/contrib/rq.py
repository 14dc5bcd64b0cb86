"""Run queued deliveries in an RQ worker: `Receiver(..., handoff=RQHandoff(queue, receiver=...))`.

A ring enqueues `suno_hooks.contrib.rq.run_queued(key, receiver)` with a job id derived from the
delivery's dedupe key, so ringing again while that job waits or runs adds nothing; once the job
has finished or been stopped, the next ring queues it afresh, and a failed job is requeued from
RQ's failed registry. The receiver rings the keys that wait while one is sent with
`ring_many(keys)`: two keys or more go as one job, `suno_hooks.contrib.rq.fan_out(keys, ...)`,
queued at the front of the queue with an id derived from the batch (a batch sent twice while it
waits is queued once), and the worker that runs it applies the rule above to each key, queueing
their jobs in order in one Redis transaction (failed jobs are requeued after them), so the web
process pays for one job, not one per key. `RQHandoff(..., fan_out=False)` queues each key's job
from the web process, as a lone key always is. The job imports the receiver from the dotted
path given as `receiver=` (e.g. `"myapp.hooks:receiver"`), so a plain worker runs it:

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
work-horse killed while its worker survives has its job marked failed at once. A fan-out lost,
or whose worker is killed before it queued the jobs, leaves its deliveries queued in the store,
and the sweeper rings them.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from redis import Redis
from redis.exceptions import RedisError, WatchError
from rq import Queue, get_current_job
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

from ..handoff import HandoffError, QueuedRunner
from ..handoff._protocol import import_object, named, ring_many_or_log
from ..stores.redaction import MASK

__all__ = ["RQHandoff", "fan_out", "job_id", "run_queued"]

_ENDED = frozenset(
    status.value for status in (JobStatus.FINISHED, JobStatus.STOPPED, JobStatus.CANCELED)
)
_TRIES = 3
_FAN_OUT = {"result_ttl": 0, "at_front": True}
"""A fan-out job's own options: taken before the jobs waiting, and gone once it has run."""
_REFUSED = ("depends_on", "job_id", "pipeline", "rate_limit", "unique")
_KEPT = (
    *("timeout", "result_ttl", "ttl", "failure_ttl", "description", "at_front", "meta"),
    *("retry", "on_success", "on_failure", "on_stopped", "repeat", "webhooks"),
)

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


def fan_out(
    keys: Sequence[str], receiver: str | None = None, options: dict[str, Any] | None = None
) -> None:
    """The job that rings many deliveries at once: queue the job of each of `keys` on this job's
    own queue, as `RQHandoff(queue, receiver=receiver, **options).ring_many` does in the web
    process; the keys it cannot queue are logged at WARNING and stay `queued` for the sweeper."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("fan_out runs as an RQ job, in a worker.")
    queue = Queue(
        job.origin, connection=job.connection, serializer=job.serializer, job_class=type(job)
    )
    ring_many_or_log(RQHandoff(queue, receiver=receiver, fan_out=False, **(options or {})), keys)


def _fan_out_id(queue: str, keys: Sequence[str]) -> str:
    batch = json.dumps([queue, *keys]).encode()
    return "suno-hooks-fan-out-" + hashlib.sha256(batch).hexdigest()[:40]


class _Job(NamedTuple):
    """A job a ring queues: the run of the delivery `name`, or the fan-out that `name` counts."""

    name: str
    id: str
    func: Callable[..., None]
    args: tuple[Any, ...]
    options: dict[str, Any]


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
    receiver from; `fan_out` sends a batch of keys as one job that a worker turns into theirs;
    `options` are `Queue.enqueue`'s job options (`job_timeout`, `result_ttl`, `ttl`,
    `failure_ttl`, `description`, `meta`, `retry`, `on_success`, ...)."""

    out_of_process = True

    def __init__(
        self, queue: Queue, *, receiver: str | None = None, fan_out: bool = True, **options: Any
    ) -> None:
        if receiver is not None and ":" not in receiver and "." not in receiver:
            raise ValueError("receiver must be a dotted path like 'myapp.hooks:receiver'.")
        self.queue = queue
        self.receiver = receiver
        self.fan_out = fan_out
        self.options = options
        self._job_options = _job_options(options)
        self._fan_out_options = _job_options(_FAN_OUT)
        self._carried = dict(options)  # what a fan-out job tells its worker's queue
        if "job_timeout" not in options and queue._default_timeout != Queue.DEFAULT_TIMEOUT:
            self._carried["job_timeout"] = queue._default_timeout
        if fan_out:
            _check_sendable(queue, self._carried)

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
        fan_out = "" if self.fan_out else ", fan_out=False"
        return f"RQHandoff(queue={self.queue.name!r}, receiver={self.receiver!r}{fan_out})"

    def bind(self, receiver: QueuedRunner) -> None:
        """Remember `receiver` in this process, for jobs enqueued without a `receiver` path."""
        with _lock:
            _bound.append(receiver)

    def ring(self, key: str) -> None:
        """Enqueue the job for `key` unless one is already waiting or running; `HandoffError`
        when it cannot."""
        for error in self.ring_many([key]).values():
            raise error

    def ring_many(self, keys: Sequence[str]) -> dict[str, HandoffError]:
        """Enqueue the jobs for `keys` in order, each unless one is already waiting or running,
        in one Redis transaction, or, for two keys or more unless `fan_out` is off, the one job
        that has a worker do so; the keys whose job id another queue's job holds, each with its
        error; `HandoffError` when Redis cannot be reached."""
        unique = list(dict.fromkeys(keys))
        try:
            if self.fan_out and len(unique) > 1 and not self._enqueue([self._fan_out(unique)]):
                return {}
            taken = self._enqueue([self._run(key) for key in unique])
        except RedisError as exc:
            detail = _without_password(str(exc), self.queue.connection)
            raise HandoffError(
                f"RQ could not queue {named(keys)}: {type(exc).__name__}: {detail}"
            ) from None
        return {job.name: _taken(job.name) for job in taken}

    def _run(self, key: str) -> _Job:
        return _Job(key, job_id(key), run_queued, (key, self.receiver), self._job_options)

    def _fan_out(self, keys: list[str]) -> _Job:
        options = {**self._fan_out_options, "description": f"suno-hooks: ring {named(keys)}"}
        args = (keys, self.receiver, self._carried or None)
        return _Job(named(keys), _fan_out_id(self.queue.name, keys), fan_out, args, options)

    def _enqueue(self, jobs: list[_Job]) -> list[_Job]:
        """Queue `jobs` unless each is already waiting or running; those whose id another
        queue's job holds."""
        if len(jobs) == 1 and self._enqueue_unique(jobs[0]):
            return []
        for attempt in range(_TRIES):
            taken = self._try_enqueue(jobs, clean=attempt == 0)
            if taken is not None:
                return taken
        return jobs

    def _enqueue_unique(self, job: _Job) -> bool:
        """Enqueue `job` in one atomic command if its id is free, the common case for a lone
        ring or a fan-out (cheaper than the transaction); whether it was."""
        try:
            self.queue.enqueue_call(job.func, job.args, job_id=job.id, unique=True, **job.options)
        except DuplicateJobError:
            return False
        return True

    def _try_enqueue(self, jobs: list[_Job], *, clean: bool) -> list[_Job] | None:
        """Read the records of `jobs`; queue each job with none or an ended one, in a
        transaction that fails when any record read changed meanwhile, then requeue the failed
        ones; a job that waits or runs is left alone. The jobs whose id another queue's job
        holds, or None to read again: after a failed transaction, or after RQ's cleanup of the
        started registry (when `clean` and a job was started) moved the jobs whose heartbeat
        lapsed, their worker killed, to the failed registry."""
        queue = self.queue
        job_keys = [queue.job_class.key_for(job.id) for job in jobs]
        with queue.connection.pipeline() as transaction:
            transaction.watch(*job_keys)  # type: ignore[no-untyped-call]
            with queue.connection.pipeline(transaction=False) as reads:
                for job_key in job_keys:
                    reads.hmget(job_key, "status", "origin")
                found = [(_text(status), _text(origin)) for status, origin in reads.execute()]
            if clean and any(status == JobStatus.STARTED.value for status, _ in found):
                StartedJobRegistry(queue=queue).cleanup()
                return None
            fresh: list[_Job] = []
            ended: list[str] = []
            failed: list[_Job] = []
            taken: list[_Job] = []
            for job, (status, origin) in zip(jobs, found, strict=True):
                if status is None:
                    fresh.append(job)
                elif origin != queue.name:
                    taken.append(job)
                elif status == JobStatus.FAILED.value:
                    failed.append(job)
                elif status in _ENDED:
                    ended.append(job.id)
                    fresh.append(job)
            if fresh:
                transaction.multi()
                for identity in ended:
                    record = queue.fetch_job(identity)
                    if record is not None:
                        record.delete(pipeline=transaction)
                data = [
                    Queue.prepare_data(job.func, job.args, job_id=job.id, **job.options)
                    for job in fresh
                ]
                queue.enqueue_many(data, pipeline=transaction)
                try:
                    transaction.execute()
                except WatchError:
                    return None
        for job in failed:
            self._requeue(job)
        return taken

    def _requeue(self, job: _Job) -> None:
        """Put the failed `job` back in the queue. Requeued rather than deleted: deleting a job
        that RQ called abandoned fails for a minute, while its execution is listed but its
        record has expired."""
        try:
            self.queue.failed_job_registry.requeue(job.id)
        except InvalidJobOperation:
            pass  # another ring requeued it
        except NoSuchJobError:
            self._enqueue_unique(job)  # it expired since it was read


def _job_options(options: dict[str, Any]) -> dict[str, Any]:
    """`Queue.enqueue`'s job options as `Queue.prepare_data` takes them; a `ValueError` for one a
    ring cannot use (its job id is the key's, unique, with no dependency) or does not know."""
    parsed = Queue.parse_args(run_queued, **options)._asdict()
    refused = [name for name in _REFUSED if parsed[name]] + sorted(parsed["kwargs"] or ())
    if refused or parsed["args"]:
        raise ValueError(f"RQHandoff cannot take the job option(s) {', '.join(refused)}.")
    return {name: parsed[name] for name in _KEPT}


def _check_sendable(queue: Queue, options: dict[str, Any]) -> None:
    """A `ValueError` when a fan-out job could not carry the job `options` to the worker: the
    queue's serializer cannot write them (JSON and a `Retry`, say)."""
    try:
        queue.serializer.dumps(options)
    except Exception as exc:
        raise ValueError(
            f"RQHandoff's job options cannot travel in a fan-out job with this queue's "
            f"serializer ({type(exc).__name__}): give fan_out=False."
        ) from None


def _taken(key: str) -> HandoffError:
    return HandoffError(f"RQ could not queue {key}: its job id stayed taken")


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _without_password(text: str, connection: Redis) -> str:
    password = connection.connection_pool.connection_kwargs.get("password")
    return text.replace(password, MASK) if isinstance(password, str) and password else text
