"""The Django project of `benchmarks/http_adapters.py`'s Django row, served by gunicorn: one
`Song` row (`benchmarks/models.py`) per completed task, written through the ORM into the
project's SQLite file (the database of `benchmarks/django_settings.py`), which is also the
`django://` store's.

`SUNO_BENCH_DJANGO_VIEW` names the view at `/suno/callback`:

- `suno`: suno-hooks' sync view (`callback_patterns()`), with one receiver of the Django signal
  `task_completed` that inserts the song. It runs in the delivery's transaction, so the song
  and the delivery's `done` mark commit together.
- `hand`: a hand-written view doing what the other rows' baselines do (`benchmarks.baseline`:
  validate the model, check the signature) and the same insert of the song (one `INSERT`,
  autocommit), with the same JSON answer.

Both are mounted the same way (an include with two routes), so routing costs the same.
`application` is the WSGI app; its tables are created first with
`django_settings.migrate_project`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baseline import ANSWERS, FORGED, KEY, verified
from benchmarks.django_settings import configure

VIEW = os.environ.get("SUNO_BENCH_DJANGO_VIEW", "suno")
if VIEW not in ("suno", "hand"):
    raise SystemExit(f"SUNO_BENCH_DJANGO_VIEW is 'suno' or 'hand', not {VIEW!r}")

configure("benchmarks.http_django", KEY, apps=["benchmarks"])  # its model: benchmarks/models.py

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import IntegrityError  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from benchmarks.models import Song  # noqa: E402
from suno_hooks import Event  # noqa: E402
from suno_hooks.contrib.django.signals import task_completed  # noqa: E402
from suno_hooks.contrib.django.urls import callback_patterns  # noqa: E402

logging.getLogger("suno_hooks").setLevel(logging.ERROR)


def keep_song(sender: Any, event: Event, **kwargs: Any) -> None:
    """The one receiver of `task_completed` (suno-hooks' view)."""
    Song.objects.create(
        task_id=event.task_id, audio_url=event.tracks[0].audio_url if event.tracks else None
    )


task_completed.connect(keep_song, weak=False)


@csrf_exempt
def hand_callback(request: HttpRequest) -> HttpResponse:
    """The hand-written view: verify, parse, insert the song, answer."""
    try:
        callback = verified(
            request.body,
            request.headers.get("X-Webhook-Timestamp"),
            request.headers.get("X-Webhook-Signature"),
        )
    except PermissionError:
        return HttpResponse(FORGED, status=401, content_type="application/json")
    tracks = callback.data.data
    try:
        Song.objects.create(
            task_id=callback.data.task_id, audio_url=tracks[0].audio_url if tracks else None
        )
    except IntegrityError:  # the task's song is already kept: a duplicate
        return HttpResponse(ANSWERS[False], content_type="application/json")
    return HttpResponse(ANSWERS[True], content_type="application/json")


hand_patterns = [path("callback", hand_callback), path("callback/", hand_callback)]

urlpatterns = [
    path(
        "suno/",
        include((callback_patterns(), "suno_hooks"))
        if VIEW == "suno"
        else include((hand_patterns, "hand")),
    )
]

application = get_wsgi_application()
