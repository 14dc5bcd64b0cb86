"""Connects the Suno signal receivers when Django starts."""

from django.apps import AppConfig


class TracksConfig(AppConfig):
    """The tracks app; its receivers live in `tracks.receivers`."""

    name = "tracks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
