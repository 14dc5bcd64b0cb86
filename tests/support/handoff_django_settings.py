"""Django settings for the tasks hand-off tests: django-tasks-db's database backend on a SQLite
file (`SUNO_HOOKS_TEST_DJANGO_DB`) shared by the ringing process and `db_worker`, and the
stand-in receiver as the project's receiver."""

from __future__ import annotations

import os

import django

from .handoff_ledger import RecordingReceiver

SECRET_KEY = "django-handoff-test-secret-key"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Django 6 has django.tasks built in; below 6 the backport's app provides it.
INSTALLED_APPS = ["django_tasks_db"] + (["django_tasks"] if django.VERSION < (6,) else [])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SUNO_HOOKS_TEST_DJANGO_DB"],
        "OPTIONS": {"timeout": 30},
    }
}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
SUNO_HOOKS = {"RECEIVER": RecordingReceiver()}
