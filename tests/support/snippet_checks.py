"""Run inside a README snippet's process, after it: deliver a signed callback to what the
snippet built (its Flask or ASGI `app`, else its `receiver`) through the callback URL its own
view mints, and fail unless the answer is `received` (`queued` with a hand-off, whose work is
then finished as its worker would) and no receiver failed."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from suno_hooks import Receiver
from suno_hooks.handoff import ThreadHandoff
from suno_hooks.testing import encode, make_callback, sign_headers

TASK_ID = "readme0snippet0task0000000000001"
HMAC_KEY = "whk_readme_snippet_key"
ENVIRONMENT = {
    "KIE_WEBHOOK_HMAC_KEY": HMAC_KEY,
    "SUNO_HOOKS_SECRET_KEY": "readme-snippet-secret",
    "SECRET_KEY": "readme-snippet-flask-secret",
    # The hand-off guide's brokers: Celery's in-process one, and an RQ one nothing listens on
    # (its ring fails and is logged; the check then runs the delivery as the worker would).
    "CELERY_BROKER_URL": "memory://",
    "SUNO_HOOKS_RQ_URL": "redis://127.0.0.1:9/0",
    "SUNO_HOOKS_RECEIVER": "myapp.hooks:receiver",
}
_PARAMETER = re.compile(r"<[^>]+>|\{[^}]+\}")


def signed_callback() -> tuple[bytes, dict[str, str]]:
    """A complete music callback and Kie's headers for it."""
    body = encode(make_callback("music", "complete", TASK_ID))
    return body, sign_headers(body, HMAC_KEY)


def target(url: str) -> str:
    """The path and query of a callback URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def exercise(namespace: dict[str, Any]) -> None:
    """Deliver one callback to what the snippet built; raise when it was not handled."""
    app = namespace.get("app")
    if app is not None and type(app).__module__.startswith("flask"):
        receiver = _exercise_flask(app)
    elif app is not None and callable(app):
        receiver = namespace["receiver"]
        asyncio.run(_exercise_asgi(app, receiver))
    elif isinstance(namespace.get("receiver"), Receiver):
        receiver = namespace["receiver"]
        _exercise_receiver(receiver, namespace.get("url"))
    else:
        return
    failed = receiver.store.deliveries(status="failed")
    assert not failed, f"a receiver failed: {failed[0].error}"
    delivered = receiver.store.get(f"{TASK_ID}:complete")
    assert delivered is not None and delivered.status == "done", delivered


def answered(receiver: Receiver) -> str:
    """What the receiver answers a new callback: `queued` with a hand-off, else `received`."""
    return "received" if receiver.handoff is None else "queued"


def finish(receiver: Receiver) -> None:
    """With a hand-off, finish the callback's work as its worker would: let the thread hand-off
    finish, or run the queued delivery here."""
    if isinstance(receiver.handoff, ThreadHandoff):
        assert receiver.handoff.close(), "the thread hand-off did not finish"
    elif receiver.handoff is not None:
        assert receiver.run_queued(f"{TASK_ID}:complete").ok


async def afinish(receiver: Receiver) -> None:
    """`finish` on the loop that served the callback."""
    if isinstance(receiver.handoff, ThreadHandoff):
        assert await receiver.handoff.aclose(), "the thread hand-off did not finish"
    elif receiver.handoff is not None:
        assert (await receiver.arun_queued(f"{TASK_ID}:complete")).ok


def _exercise_flask(app: Any) -> Receiver:
    client = app.test_client()
    url = "/suno/callback"
    for rule in app.url_map.iter_rules():
        if "replace-section" in rule.rule and "POST" in (rule.methods or ()):
            answer = client.post(_PARAMETER.sub("7", rule.rule))
            assert answer.status_code == 200, answer.text
            url = answer.json["callBackUrl"]
    body, headers = signed_callback()
    answer = client.post(target(url), data=body, headers=headers)
    receiver: Receiver = app.extensions["suno_hooks"].receiver_for(app)
    assert answer.json == {"status": answered(receiver)}, answer.text
    finish(receiver)
    return receiver


async def _exercise_asgi(app: Any, receiver: Receiver) -> None:
    import httpx

    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            url = "/suno/callback"
            for route in getattr(app, "routes", []):
                path = getattr(route, "path", "")
                if "replace-section" in path and "POST" in (getattr(route, "methods", ()) or ()):
                    answer = await client.post(_PARAMETER.sub("7", path))
                    assert answer.status_code == 200, answer.text
                    url = answer.json()["callBackUrl"]
            body, headers = signed_callback()
            answer = await client.post(target(url), content=body, headers=headers)
            assert answer.json() == {"status": answered(receiver)}, answer.text
            await afinish(receiver)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start and stop the app through its ASGI lifespan, as a server does."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    yield
    await inbox.put({"type": "lifespan.shutdown"})
    assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
    await task


def _exercise_receiver(receiver: Receiver, url: str | None) -> None:
    from suno_hooks.wsgi import wsgi_app

    if url is None and receiver.signer is not None:
        url = receiver.callback_url("http://localhost/suno/callback")
    path, _, query = target(url or "/suno/callback").partition("?")
    body, headers = signed_callback()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
    }
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    statuses: list[str] = []
    answer = b"".join(wsgi_app(receiver)(environ, lambda status, _: statuses.append(status)))
    assert statuses == ["200 OK"] and f'"{answered(receiver)}"'.encode() in answer, answer
    finish(receiver)


DJANGO_SETTINGS = """\
SECRET_KEY = "readme-snippet-django-secret"
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "project.urls"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "tracks"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""
DJANGO_APP = {
    "project/__init__.py": "",
    "tracks/__init__.py": "",
    "tracks/apps.py": (
        "from django.apps import AppConfig\n\n\n"
        "class TracksConfig(AppConfig):\n"
        "    name = 'tracks'\n\n"
        "    def ready(self):\n"
        "        from . import receivers  # noqa: F401\n"
    ),
    "tracks/models.py": (
        "from django.db import models\n\n\n"
        "class Track(models.Model):\n"
        "    title = models.CharField(max_length=200)\n"
        "    audio_url = models.URLField()\n"
    ),
}


def exercise_django(directory: str) -> None:
    """The README's Django files added to a bare project: `check`, `migrate`, then a signed
    callback through the test client stores the two tracks."""
    import django
    from django.core.management import call_command
    from django.test import Client

    sys.path.insert(0, directory)
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    django.setup()
    call_command("check", fail_level="WARNING")
    call_command("migrate", run_syncdb=True, verbosity=0)
    body, headers = signed_callback()
    answer = Client().post("/suno/callback", body, "application/json", headers=headers)
    from suno_hooks.contrib.django.conf import get_receiver

    assert answer.json() == {"status": answered(get_receiver())}, answer.content
    if get_receiver().handoff is not None:  # the tasks framework's worker, one batch
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    from tracks.models import Track  # type: ignore[import-not-found]

    assert Track.objects.count() == 2


def main() -> None:
    """`python -m tests.support.snippet_checks SCRIPT` runs the snippet script, then exercises
    what it built; `--django DIR` exercises a project made of the README's Django files."""
    import runpy

    os.environ.update({k: v for k, v in ENVIRONMENT.items() if k not in os.environ})
    if sys.argv[1] == "--django":
        exercise_django(sys.argv[2])
        return
    namespace = runpy.run_path(sys.argv[1], run_name="readme_snippet")
    exercise(namespace)


if __name__ == "__main__":
    main()
