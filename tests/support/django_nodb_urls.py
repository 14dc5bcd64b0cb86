"""URLs of the project without a database: the callback at `suno/callback`. Importing it
connects a sync and an async receiver to the Django and to the blinker `task_completed`; each
appends `<receiver> <task id>` to the file named by `NODB_RECORD`."""

from __future__ import annotations

import os
from typing import Any

from django.urls import include, path

import suno_hooks
from suno_hooks.contrib.django import signals

urlpatterns = [path("suno/", include("suno_hooks.contrib.django.urls"))]


def _record(receiver: str, event: Any) -> None:
    with open(os.environ["NODB_RECORD"], "a", encoding="utf-8") as file:
        file.write(f"{receiver} {event.task_id}\n")


def django_sync(sender: Any, event: Any, **kwargs: Any) -> None:
    _record("django-sync", event)


async def django_async(sender: Any, event: Any, **kwargs: Any) -> None:
    _record("django-async", event)


def blinker_sync(sender: Any, event: Any, **kwargs: Any) -> None:
    _record("blinker-sync", event)


async def blinker_async(sender: Any, event: Any, **kwargs: Any) -> None:
    _record("blinker-async", event)


signals.task_completed.connect(django_sync)
signals.task_completed.connect(django_async)
suno_hooks.task_completed.connect(blinker_sync)
suno_hooks.task_completed.connect(blinker_async)
