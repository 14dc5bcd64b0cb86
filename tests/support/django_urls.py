"""URLs for the Django tests: the app's include (sync view), the async view, and the admin."""

from django.contrib import admin
from django.urls import include, path

from suno_hooks.contrib.django.urls import callback_patterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("suno/", include("suno_hooks.contrib.django.urls")),
    path(
        "suno-async/",
        include((callback_patterns(asynchronous=True), "suno_hooks"), namespace="suno_hooks_async"),
    ),
]
