"""Settings of a Django project without a database (`DATABASES = {}`), served by a real server
in `tests/adapters/test_django_no_database.py`; the environment picks the store and the view.

`NODB_STORE` is the store URL, `NODB_ASYNC` asks for the async view, `NODB_LOG` is the file that
every WARNING or worse record goes to, and `NODB_TRANSACTION_ALIAS` (when set) passes a ready
receiver whose dispatcher names that transaction database.
"""

from __future__ import annotations

import os
from typing import Any

SECRET_KEY = "no-database-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.support.django_nodb_urls"
INSTALLED_APPS = ["suno_hooks.contrib.django"]
MIDDLEWARE: list[str] = []
DATABASES: dict[str, Any] = {}
HMAC_KEY = "whk_no_database_key"

SUNO_HOOKS: dict[str, Any] = {
    "HMAC_KEYS": [HMAC_KEY],
    "STORE": os.environ.get("NODB_STORE", "memory://"),
    "ASYNC": os.environ.get("NODB_ASYNC") == "1",
}
if os.environ.get("NODB_TRANSACTION_ALIAS"):
    from suno_hooks import Receiver
    from suno_hooks.contrib.django.dispatcher import DjangoDispatcher

    SUNO_HOOKS = {
        "RECEIVER": Receiver(
            hmac_keys=[HMAC_KEY],
            store=SUNO_HOOKS["STORE"],
            dispatcher=DjangoDispatcher(using=os.environ["NODB_TRANSACTION_ALIAS"]),
        )
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "filename": os.environ.get("NODB_LOG", os.devnull),
            "level": "WARNING",
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["file"], "level": "WARNING"},
}
