"""What the benchmarks' Django projects (`handoff_django.py`, `http_django.py`) share: settings
for a project served by gunicorn with suno-hooks' app on the `django://` store, on a SQLite file
in the run's directory (`SUNO_BENCH_SQLITE_DIR/django.sqlite3`, WAL and `synchronous=NORMAL` as
the `sqlite://` store sets them), and the `migrate` that creates its tables before the server
starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def directory() -> Path:
    """The run's directory, which holds the project's database."""
    return Path(os.environ["SUNO_BENCH_SQLITE_DIR"])


def configure(
    urlconf: str,
    key: str,
    *,
    apps: Sequence[str] = (),
    hooks: Mapping[str, Any] | None = None,
    **extra: Any,
) -> None:
    """Configure Django and set it up: routes from `urlconf`, suno-hooks' app then `apps`,
    `SUNO_HOOKS` on `django://` with callbacks signed under `key` (plus `hooks`), and any
    `extra` settings."""
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=urlconf,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "suno_hooks.contrib.django",
            *apps,
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(directory() / "django.sqlite3"),
                # As the `sqlite://` store of the other rows sets it.
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
                # Persistent, as deployed: a connection per request would be opened, set up and
                # (the last one on a WAL file) checkpointed on close, most of either view's time.
                "CONN_MAX_AGE": None,
            }
        },
        SUNO_HOOKS={"HMAC_KEYS": [key], "STORE": "django://", **(hooks or {})},
        LOGGING_CONFIG=None,
        **extra,
    )
    django.setup()


def migrate() -> None:
    """Create the configured project's tables (apps without migrations too)."""
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


def migrate_project(module: str, environ: Mapping[str, str]) -> None:
    """Create the tables of the project `module` configures, in the run directory `environ`
    names, in a process of its own: run once before its server starts."""
    code = f"import {module}; from benchmarks.django_settings import migrate; migrate()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(environ), check=True)
