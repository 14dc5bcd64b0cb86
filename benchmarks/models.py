"""The model of the Django project `benchmarks/http_django.py` (which installs this package as
its app): one `Song` row per completed task, written through the ORM."""

from __future__ import annotations

from django.db import models


class Song(models.Model):
    """A generated song: its task and its first track's audio."""

    task_id = models.CharField(max_length=64, unique=True)
    audio_url = models.TextField(null=True)
