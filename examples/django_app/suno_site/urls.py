"""The callback endpoint under /suno/, the track pages, the admin (the inbox), and the static
files (the admin's CSS) served by Django itself so they load under gunicorn and uvicorn too."""

from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("suno/", include("suno_hooks.contrib.django.urls")),
    path("", include("tracks.urls")),
    # Fine for an example; a production site serves collectstatic's output from its web server
    # (or WhiteNoise) instead.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
]
