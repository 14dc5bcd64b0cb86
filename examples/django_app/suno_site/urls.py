"""The callback endpoint under /suno/, the track pages, and the admin (the inbox)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("suno/", include("suno_hooks.contrib.django.urls")),
    path("", include("tracks.urls")),
]
