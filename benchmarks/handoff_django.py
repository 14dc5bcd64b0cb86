"""The Django project `benchmarks/handoff.py` serves under gunicorn: suno-hooks' sync view at
`/suno/callback` on the `django://` store (the SQLite file of `benchmarks/django_settings.py`),
with the tasks framework on `django-tasks-db`'s database backend.

With `SUNO_BENCH_DJANGO_HANDOFF=1` the receiver hands off to Django's tasks (`"HANDOFF":
"django"`) and its handler sleeps `SUNO_BENCH_HANDLER` seconds (no `db_worker` runs, so it never
does); otherwise it answers inline with a no-op handler. `application` is the WSGI app; its
tables are created first with `django_settings.migrate_project`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.django_settings import configure, directory
from benchmarks.handoff_apps import FailedRings, failed_rings_file

HANDOFF = os.environ.get("SUNO_BENCH_DJANGO_HANDOFF") == "1"
KEY = "whk_handoff_benchmark_key"

configure(
    "benchmarks.handoff_django",
    KEY,
    apps=["django_tasks_db", *(["django_tasks"] if django.VERSION < (6,) else [])],
    hooks={"HANDOFF": "django"} if HANDOFF else {},
    TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import include, path  # noqa: E402

from suno_hooks.contrib.django.signals import task_completed  # noqa: E402

logging.getLogger("suno_hooks").setLevel(logging.ERROR)
_handoff_logger = logging.getLogger("suno_hooks.handoff")
_handoff_logger.setLevel(logging.WARNING)
_handoff_logger.propagate = False
_handoff_logger.addHandler(FailedRings(failed_rings_file(directory())))

urlpatterns = [path("suno/", include("suno_hooks.contrib.django.urls"))]


def handler(sender: Any = None, **kwargs: Any) -> None:
    """Sleeps behind the hand-off (in a worker, which the benchmark does not start); a no-op
    inline."""
    if HANDOFF:
        time.sleep(float(os.environ.get("SUNO_BENCH_HANDLER", "2.0")))


task_completed.connect(handler, weak=False)

application = get_wsgi_application()
