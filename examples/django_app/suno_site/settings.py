"""Settings of the example project; every secret comes from the environment."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "suno_hooks.contrib.django",
    "tracks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "suno_site.urls"
WSGI_APPLICATION = "suno_site.wsgi.application"
ASGI_APPLICATION = "suno_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SUNO_EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"  # the admin shows delivery times in UTC, as the logs and the CLI do
STATIC_URL = "static/"

# Kie's webhookHmacKey (comma-separated during a rotation, current first). Callback URLs are
# signed with Django's SECRET_KEY unless SUNO_HOOKS["SECRET_KEY"] says otherwise.
SUNO_HOOKS = {
    "HMAC_KEYS": [k for k in os.environ.get("SUNO_HOOKS_HMAC_KEYS", "").split(",") if k],
    "STORE": "django://",
    # Under uvicorn (ASGI) serve the async view.
    "ASYNC": os.environ.get("SUNO_EXAMPLE_ASYNC", "") == "1",
}
