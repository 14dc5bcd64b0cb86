"""A Starlette app that submits (simulated) replace-section tasks, receives their callbacks
through suno-hooks and lists the finished tracks.

    uvicorn examples.starlette_app.app:app --port 8000
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.templating import Jinja2Templates

from examples.track_library import TEMPLATES, TrackLibrary
from suno_hooks import Event, Receiver, task_completed, task_failed
from suno_hooks.contrib.starlette import suno_routes

receiver = Receiver(
    hmac_keys=[k for k in os.environ.get("KIE_WEBHOOK_HMAC_KEYS", "").split(",") if k],
    secret_key=os.environ.get("SECRET_KEY", "change-me"),  # signs callback URLs
    store=os.environ.get("SUNO_HOOKS_STORE", "memory://"),
)
library = TrackLibrary(os.environ.get("TRACKS_DB", "starlette_tracks.db"))
templates = Jinja2Templates(directory=str(TEMPLATES))


@task_completed.connect_via(receiver)
@task_failed.connect_via(receiver)
async def keep(sender: Receiver, event: Event, **extra: Any) -> None:
    """Store the tracks off the event loop (sqlite3 blocks)."""
    await asyncio.to_thread(library.record, event)


def page(request: Request, **extra: Any) -> Response:
    context = {
        "framework": "Starlette",
        "submit_url": request.url_for("replace_section").path,
        "tracks": library.tracks(),
        "requests": library.requests(),
        **extra,
    }
    return templates.TemplateResponse(request, "tracks.html", context)


async def index(request: Request) -> Response:
    return page(request)


async def replace_section(request: Request) -> Response:
    form = parse_qs((await request.body()).decode())
    base = str(request.url_for("suno_hooks:callback"))
    submitted = library.submit_replace_section(
        form.get("prompt", [""])[0],
        lambda context: receiver.callback_url(base, context=context, feature="replace_section"),
    )
    # A real app would now POST {..., "callBackUrl": submitted.callback_url} to the Suno API.
    return page(request, submitted=submitted)


app = Starlette(
    routes=[
        Route("/", index),
        Route("/replace-section", replace_section, methods=["POST"], name="replace_section"),
        Mount("/suno", routes=suno_routes(receiver), name="suno_hooks"),
    ]
)
