"""The Django project `benchmarks/handoff.py` serves under gunicorn: suno-hooks' sync view at
`/suno/callback` on the `django://` store (SQLite at `SUNO_BENCH_SQLITE_DIR/django.sqlite3`, WAL
and `synchronous=NORMAL` as the `sqlite://` store sets them), with the tasks framework on
`django-tasks-db`'s database backend.

With `SUNO_BENCH_DJANGO_HANDOFF=1` the receiver hands off to Django's tasks (`"HANDOFF":
"django"`) and its handler sleeps `SUNO_BENCH_HANDLER` seconds (no `db_worker` runs, so it never
does); otherwise it answers inline with a no-op handler. `migrate()` creates the tables;
`application` is the WSGI app.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.handoff_apps import FailedRings, failed_rings_file

HANDOFF = os.environ.get("SUNO_BENCH_DJANGO_HANDOFF") == "1"
DIRECTORY = Path(os.environ["SUNO_BENCH_SQLITE_DIR"])
KEY = "whk_handoff_benchmark_key"

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF="benchmarks.handoff_django",
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "suno_hooks.contrib.django",
        "django_tasks_db",
        *(["django_tasks"] if django.VERSION < (6,) else []),
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DIRECTORY / "django.sqlite3"),
            # As the `sqlite://` store of the other rows sets it.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    },
    TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
    SUNO_HOOKS={
        "HMAC_KEYS": [KEY],
        "STORE": "django://",
        **({"HANDOFF": "django"} if HANDOFF else {}),
    },
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import include, path  # noqa: E402

from suno_hooks.contrib.django.signals import task_completed  # noqa: E402

logging.getLogger("suno_hooks").setLevel(logging.ERROR)
_handoff_logger = logging.getLogger("suno_hooks.handoff")
_handoff_logger.setLevel(logging.WARNING)
_handoff_logger.propagate = False
_handoff_logger.addHandler(FailedRings(failed_rings_file(DIRECTORY)))

urlpatterns = [path("suno/", include("suno_hooks.contrib.django.urls"))]


def handler(sender: Any = None, **kwargs: Any) -> None:
    """Sleeps behind the hand-off (in a worker, which the benchmark does not start); a no-op
    inline."""
    if HANDOFF:
        time.sleep(float(os.environ.get("SUNO_BENCH_HANDLER", "2.0")))


task_completed.connect(handler, weak=False)

application = get_wsgi_application()


def migrate() -> None:
    """Create the tables (suno-hooks' store, the tasks backend's)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
