"""ASGI entry point: `SUNO_EXAMPLE_ASYNC=1 uvicorn suno_site.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suno_site.settings")
application = get_asgi_application()
