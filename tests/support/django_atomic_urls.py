"""URLs for the ATOMIC_REQUESTS worker: the sync view at `sync/`, the async one at `async/`."""

from django.urls import include, path

from suno_hooks.contrib.django.urls import callback_patterns

urlpatterns = [
    path("sync/", include((callback_patterns(), "suno_hooks"))),
    path("async/", include((callback_patterns(asynchronous=True), "suno_hooks_async"))),
]
