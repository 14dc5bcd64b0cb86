"""A Django project for the fault tests, run by gunicorn (`tests.support.fault_django:application`):
the suno_hooks app on the SQLite file `FAULT_DJANGO_DB`, its callback view at /suno/callback,
and a receiver of the Django `callback_received` signal that appends each dispatch to the log
`FAULT_LOG`. `python -m tests.support.fault_django` migrates the database."""

from __future__ import annotations

import os
from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="fault-django-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="tests.support.fault_django",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "suno_hooks.contrib.django",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.environ["FAULT_DJANGO_DB"],
            }
        },
        SUNO_HOOKS={"HMAC_KEYS": [os.environ["FAULT_HMAC"]], "STORE": os.environ["FAULT_STORE"]},
    )
    django.setup()

from django.core.wsgi import get_wsgi_application
from django.urls import include, path

from suno_hooks.contrib.django import signals

from .faults import DispatchLog

urlpatterns = [path("suno/", include("suno_hooks.contrib.django.urls"))]
LOG = DispatchLog(os.environ["FAULT_LOG"])


def record(sender: Any, event: Any, **extra: Any) -> None:
    """Log the dedupe key of each dispatch."""
    LOG.record(event.dedupe_key)


signals.callback_received.connect(record, weak=False)
application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
