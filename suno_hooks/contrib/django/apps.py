"""The Django app configuration: label `suno_hooks`, system checks, settings reload."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.core.signals import setting_changed


class SunoHooksConfig(AppConfig):
    """Registers the `SUNO_HOOKS` checks and rebuilds the receiver when the setting changes."""

    name = "suno_hooks.contrib.django"
    label = "suno_hooks"
    verbose_name = "Suno callbacks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the settings check, and forget the cached receiver when a setting changes."""
        from .checks import check_settings
        from .conf import forget_receiver
        from .media import register_media

        checks.register(check_settings, "suno_hooks")
        register_media()
        setting_changed.connect(forget_receiver, dispatch_uid="suno_hooks.forget_receiver")
