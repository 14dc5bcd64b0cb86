"""`include("suno_hooks.contrib.django.urls")` serves `callback` and `callback/` (a POST is
never redirected by APPEND_SLASH), URL name `suno_hooks:callback`.

The view is the sync one unless `SUNO_HOOKS["ASYNC"]` is true (serve that under ASGI). To
mount both, include `(callback_patterns(asynchronous=True), "suno_hooks")` under another
namespace.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views
from .conf import uses_async_views

__all__ = ["app_name", "callback_patterns", "urlpatterns"]

app_name = "suno_hooks"
"""The URL namespace: the callback route is `suno_hooks:callback`."""


def callback_patterns(*, asynchronous: bool = False) -> list[URLPattern]:
    """The `callback` route with and without its trailing slash, served by one view."""
    view = views.async_callback if asynchronous else views.callback
    return [
        path("callback", view, name="callback"),
        path("callback/", view),
    ]


urlpatterns = callback_patterns(asynchronous=uses_async_views())
"""The callback routes, served by the async view when `SUNO_HOOKS["ASYNC"]` is true."""
