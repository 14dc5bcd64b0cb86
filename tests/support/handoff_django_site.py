"""Django settings of the end-to-end hand-off test: a project whose `SUNO_HOOKS` names the
`django` hand-off and the `django://` store, on a SQLite file (`SUNO_HOOKS_TEST_DJANGO_DB`)
shared by the web server and `db_worker`; its handler (`HandoffSiteConfig.ready`) works for
`SITE_HANDLER_SECONDS` and writes to the ledger; `SITE_LEASE` is the receiver's lease."""

from __future__ import annotations

import os
import time
from typing import Any

import django
from django.apps import AppConfig

SECRET_KEY = "django-handoff-site-secret-key"
USE_TZ = True
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "tests.support.handoff_django_site"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "suno_hooks.contrib.django",
    "django_tasks_db",
    *(["django_tasks"] if django.VERSION < (6,) else []),
    "tests.support.handoff_django_site.HandoffSiteConfig",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SUNO_HOOKS_TEST_DJANGO_DB"],
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
SUNO_HOOKS = {
    "HMAC_KEYS": [os.environ["SITE_HMAC"]],
    "STORE": "django://",
    "HANDOFF": "django",
    "LEASE": float(os.environ.get("SITE_LEASE", "60")),
}


class HandoffSiteConfig(AppConfig):
    """Connects the project's slow handler in the web server and the worker alike."""

    name = "tests.support"
    label = "handoff_site"

    def ready(self) -> None:
        from suno_hooks.contrib.django.signals import callback_received

        from .handoff_ledger import Ledger

        ledger = Ledger(os.environ["SUNO_HOOKS_TEST_LEDGER"])
        seconds = float(os.environ.get("SITE_HANDLER_SECONDS", "2"))

        def work(sender: Any, event: Any, **extra: Any) -> None:
            ledger.record(event.dedupe_key, "started")
            time.sleep(seconds)
            ledger.record(event.dedupe_key, "done")

        callback_received.connect(work, weak=False)


def _urls() -> list[Any]:
    from django.urls import include, path

    from suno_hooks.contrib.django.urls import callback_patterns

    return [
        path("suno/", include("suno_hooks.contrib.django.urls")),
        path(
            "suno-async/",
            include((callback_patterns(asynchronous=True), "suno_hooks"), namespace="async"),
        ),
    ]


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # built once Django's apps are ready
        return _urls()
    raise AttributeError(name)
