"""A Flask app that submits (simulated) replace-section tasks, receives their callbacks through
suno-hooks and lists the finished tracks.

    gunicorn -w 1 -b 127.0.0.1:5000 "examples.flask_app.app:create_app()"
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFProtect

from examples.track_library import TEMPLATES, TrackLibrary
from suno_hooks import Event, task_completed, task_failed
from suno_hooks.contrib.flask import SunoHooks


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; settings come from the environment, then from `config`."""
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "change-me"),  # also signs callback URLs
        SUNO_HOOKS_HMAC_KEYS=[
            k for k in os.environ.get("KIE_WEBHOOK_HMAC_KEYS", "").split(",") if k
        ],
        SUNO_HOOKS_STORE=os.environ.get("SUNO_HOOKS_STORE", "memory://"),
        TRACKS_DB=os.environ.get("TRACKS_DB", "flask_tracks.db"),
    )
    app.config.update(config or {})
    CSRFProtect(app)  # protects the form; the callback endpoint is exempt
    hooks = SunoHooks(app)
    library = TrackLibrary(app.config["TRACKS_DB"])

    @task_completed.connect_via(app)
    @task_failed.connect_via(app)
    def keep(sender: Flask, event: Event, **extra: Any) -> None:
        library.record(event)

    def page(**extra: Any) -> str:
        return render_template(
            "tracks.html",
            framework="Flask",
            submit_url="/replace-section",
            tracks=library.tracks(),
            requests=library.requests(),
            **extra,
        )

    @app.get("/")
    def index() -> str:
        return page()

    @app.post("/replace-section")
    def replace_section() -> str:
        submitted = library.submit_replace_section(
            request.form.get("prompt", ""),
            lambda context: hooks.callback_url(context=context, feature="replace_section"),
        )
        # A real app would now POST {..., "callBackUrl": submitted.callback_url} to the Suno API.
        return page(submitted=submitted)

    return app
