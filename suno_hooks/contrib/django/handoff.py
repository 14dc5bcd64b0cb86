"""Run queued deliveries with Django's tasks framework: `SUNO_HOOKS = {..., "HANDOFF": "django"}`
or `Receiver(..., handoff=DjangoTasksHandoff())`.

`run_queued` is a task (`django.tasks` on Django 6, the `django-tasks` backport below 6) that
calls `get_receiver().run_queued(key)` on the project's receiver, built from
`settings.SUNO_HOOKS`. A ring made inside a transaction enqueues it once that transaction has
committed, so a worker never looks for a delivery it cannot see yet. Django ships no worker:
with `django-tasks-db` (`INSTALLED_APPS += ["django_tasks_db"]` and
`TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}`, then `migrate`), run

    python manage.py db_worker

A task whose worker is killed mid-run stays `RUNNING` in the database and is never run again by
the worker; the library's sweeper rings its delivery again, which enqueues a new task.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

from ...errors import missing_extra
from ...handoff import HandoffError, QueuedRunner
from .conf import get_receiver

try:
    from django.tasks import task
except ImportError:  # Django < 6: the backport
    try:
        from django_tasks import task  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError as exc:
        raise ModuleNotFoundError(
            missing_extra("django-tasks", "django_tasks", "suno_hooks.contrib.django.handoff"),
            name="django_tasks",
        ) from exc

__all__ = ["DjangoTasksHandoff"]

logger = logging.getLogger("suno_hooks.handoff")


@task()
def run_queued(key: str) -> None:
    """The task: run the queued delivery `key` on the project's receiver."""
    receiver: Any = get_receiver()
    receiver.run_queued(key)


class DjangoTasksHandoff:
    """A hand-off to Django's tasks framework; `backend`, `queue_name` and `priority` choose
    where `run_queued` goes, `using` the database whose commit the ring waits for (by default
    the receiver's store's)."""

    out_of_process = True
    ring_in_background = False
    """A ring is a row in the project's database, written in the request like the delivery (a
    thread of its own would hold a connection Django never recycles)."""

    def __init__(
        self,
        *,
        backend: str | None = None,
        queue_name: str | None = None,
        priority: int | None = None,
        using: str | None = None,
    ) -> None:
        self.task = run_queued.using(backend=backend, queue_name=queue_name, priority=priority)
        self.using = using

    def __repr__(self) -> str:
        return f"DjangoTasksHandoff(backend={self.task.backend!r}, queue={self.task.queue_name!r})"

    def bind(self, receiver: QueuedRunner) -> None:
        """Wait for the commit of the receiver's store's database, unless `using` was given."""
        if self.using is None:
            self.using = getattr(getattr(receiver, "store", None), "using", None)

    def ring(self, key: str) -> None:
        """Enqueue `run_queued(key)` now, or when the open transaction commits."""
        if transaction.get_connection(self.using).in_atomic_block:
            transaction.on_commit(partial(self._enqueue_or_log, key), using=self.using)
        else:
            self._enqueue(key)

    def _enqueue(self, key: str) -> None:
        try:
            self.task.enqueue(key)
        except Exception as exc:
            raise HandoffError(
                f"the Django task backend could not enqueue {key}: {type(exc).__name__}"
            ) from None

    def _enqueue_or_log(self, key: str) -> None:
        try:
            self._enqueue(key)
        except HandoffError as exc:  # after the commit nobody else can hear it
            logger.warning("hand-off of %s failed, the sweeper will ring again: %s", key, exc)
